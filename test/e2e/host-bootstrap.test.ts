// SSH bootstrap from nothing: bare hosts (own netns, own mount namespace, own sshd), a controller
// endpoint in its own namespace, and the real `fleetnet` CLI driving it all.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FLEETNET } from '../helpers/agent-process.js';
import { sh, uniquePrefix } from '../helpers/netns.js';
import { assertSnapshotsEqual, takeSnapshot, type Snapshot } from '../helpers/snapshot.js';
import { installedFiles, makeSshLab, type SshHost, type SshLab } from '../helpers/ssh-hosts.js';

const P = uniquePrefix('bs');
let dir: string;
let lab: SshLab;
let ctlProc: ChildProcess | undefined;
const H: Record<string, SshHost> = {};
const CTL_PORT = 7440;

const inCtl = (cmd: string, ...args: string[]) => sh.run('nsenter', [`--net=/run/netns/${lab.ctlNs}`, cmd, ...args], { allowFail: true, timeoutMs: 240_000 });
const fleetnet = (...args: string[]) => inCtl('node', FLEETNET, ...args);
const agentCall = (host: SshHost, method: string, req: object = {}) =>
  inCtl('node', '--import', 'tsx', 'test/helpers/trust-agent-call.ts', join(dir, 'ctl'), `${host.addr}:7441`, host.name, method, JSON.stringify(req));

let snapBefore: Snapshot;
const scope = { netnsPrefixes: [P], cmdlineNeedles: [P, '/opt/fleetnet/'] };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleetnet-bootstrap-'));
  await sh.run('node', ['scripts/build.mjs']);
  mkdirSync('/run/sshd', { recursive: true }); // sshd's privilege-separation folder: machine setup, not the test's
  snapBefore = await takeSnapshot(scope);
  lab = await makeSshLab(P, dir);
  H.h1 = await lab.addHost('h1', 11);
  H.h2 = await lab.addHost('h2', 12);
  H.h3 = await lab.addHost('h3', 13, { hideNode: true });
  H.h4 = await lab.addHost('h4', 14);
  const init = await sh.run('node', [FLEETNET, 'controller', 'init', '--dir', join(dir, 'ctl'), '--token-ttl', '5m']);
  assert.match(init.stdout, /CA:/);
  ctlProc = sh.start('nsenter', [`--net=/run/netns/${lab.ctlNs}`, 'node', '--import', 'tsx', 'test/helpers/trust-controller.ts', join(dir, 'ctl'), `${lab.ctlAddr}:${CTL_PORT}`], { stdio: 'pipe' });
  await new Promise<void>((resolve, reject) => {
    ctlProc!.stdout!.once('data', () => resolve());
    ctlProc!.once('exit', (c) => reject(new Error(`controller endpoint exited ${c}`)));
  });
  ctlProc.stderr!.pipe(process.stderr);
});

after(async () => {
  ctlProc?.kill('SIGTERM');
  await lab?.cleanup();
  rmSync(dir, { recursive: true, force: true });
  // hosts, sshds, agents and supervisors, private mounts, installed files: all gone
  assertSnapshotsEqual(snapBefore, await takeSnapshot(scope), [P, '/opt/fleetnet', '/etc/fleetnet', '/var/lib/fleetnet', '/run/fleetnet/']);
});

const common = () => ['--advertise', `${lab.ctlAddr}:${CTL_PORT}`, '--controller-dir', join(dir, 'ctl'), '--known-hosts', join(dir, 'known_hosts')];

describe('fleetnet host add over SSH', () => {
  it('bootstraps three bare hosts in parallel from an inventory; Node.js is shipped to the host that has none', async () => {
    const inv = join(dir, 'hosts.yaml');
    writeFileSync(inv, `# test fleet (an Ansible YAML inventory)\nall:\n  vars:\n    ansible_user: root\n    ansible_ssh_private_key_file: ${lab.identity}\n  hosts:\n    h1:\n      ansible_host: ${H.h1!.addr}\n    h2:\n      ansible_host: ${H.h2!.addr}\n    h3:\n      ansible_host: ${H.h3!.addr}  # Node.js hidden\n`);
    const r = await fleetnet('host', 'add', '--inventory', inv, '--accept-new', '--json', ...common());
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const rows = JSON.parse(r.stdout) as { host: string; ok: boolean; result: { runtime: string; supervisor: string; pinnedNow: boolean; fingerprint: string } }[];
    assert.deepEqual(rows.map((x) => [x.host, x.ok, x.result.runtime, x.result.supervisor, x.result.pinnedNow]), [
      ['h1', true, 'host', 'fleetnet', true], ['h2', true, 'host', 'fleetnet', true], ['h3', true, 'shipped', 'fleetnet', true],
    ]);
    // progress, step by step, for every host (stderr is not a terminal here: one line per event)
    for (const h of ['h1', 'h2', 'h3']) for (const step of ['connect', 'check', 'upload', 'configure', 'start', 'register']) assert.match(r.stderr, new RegExp(`${h}: ${step} done`));
    for (const h of ['h1', 'h2', 'h3']) assert.match(r.stderr, new RegExp(`${h}: upload done.*attaches by in-process netlink`));
    // the pinned keys are the hosts' own
    const known = readFileSync(join(dir, 'known_hosts'), 'utf8');
    for (const h of [H.h1!, H.h2!, H.h3!]) assert.ok(known.includes(h.hostKeyPub.split(' ')[1]!), `${h.name} key pinned`);
    for (const h of [H.h1!, H.h2!, H.h3!]) {
      const files = installedFiles(h);
      for (const f of ['/opt/fleetnet/dist/fleetnet-agent.mjs', '/opt/fleetnet/deploy/dhcp-hook', '/opt/fleetnet/deploy/dhcp-private-ns', '/opt/fleetnet/bin/node', '/etc/fleetnet/agent/ca.crt', '/etc/fleetnet/agent/agent.env', '/var/lib/fleetnet/agent/tls/host.key', '/var/lib/fleetnet/agent/tls/host.crt',
        '/opt/fleetnet/node_modules/netlink/package.json', '/opt/fleetnet/node_modules/koffi/package.json', `/opt/fleetnet/node_modules/@koromix/koffi-linux-${process.arch}/package.json`]) {
        assert.ok(files.includes(f), `${h.name} has ${f}: ${files.join(' ')}`);
      }
      assert.ok(!files.includes('/etc/fleetnet/agent/join-token'), 'the join token is used up and gone');
      assert.equal(statSync(join(h.priv['/var/lib/fleetnet'], 'agent/tls/host.key')).mode & 0o777, 0o600);
    }
    // h3 got a real Node.js binary; h1 a link to its own (lab hosts share this machine's files: its node)
    assert.ok(statSync(join(H.h3!.priv['/opt/fleetnet'], 'bin/node')).size > 10_000_000);
    const ownNode = (await sh.run('sh', ['-c', 'command -v node'])).stdout.trim();
    assert.equal((await sh.run('readlink', [join(H.h1!.priv['/opt/fleetnet'], 'bin/node')])).stdout.trim(), ownNode);
  });

  it('a host that already has an agent is refused and left as it was', async () => {
    const before = installedFiles(H.h1!).sort();
    const r = await fleetnet('host', 'add', 'h1', '--ssh', `root@${H.h1!.addr}`, '--identity', lab.identity, ...common());
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /already has a fleetnet agent installed/);
    assert.deepEqual(installedFiles(H.h1!).sort(), before);
    assert.equal((await agentCall(H.h1!, 'list')).code, 0);
  });

  it('an attach works through each new agent over mTLS, in-process netlink included', async () => {
    for (const h of [H.h1!, H.h2!, H.h3!]) {
      const caps = await agentCall(h, 'capabilities');
      assert.equal(caps.code, 0, caps.stderr);
      const netlink = (JSON.parse(caps.stdout) as { capabilities: { name: string; available: boolean; detail: string }[] }).capabilities.find((x) => x.name === 'netlink');
      assert.deepEqual([netlink?.available, netlink?.detail], [true, 'in-process route netlink for attaches (setns through koffi)'], `${h.name}: the uploaded native modules load`);
      const c = `${P}-c${h.name}`;
      await sh.run('ip', ['netns', 'add', c]);
      try {
        const r = await agentCall(h, 'attach', { hostIf: 'br-t', target: { kind: 'netns', value: c }, addresses: [{ static: { cidr: '10.9.0.2/24', gateway: '' } }] });
        assert.equal(r.code, 0, r.stderr);
        assert.match((await sh.run('ip', ['-n', c, '-4', 'addr', 'show'])).stdout, /10\.9\.0\.2\/24/);
        assert.equal((await agentCall(h, 'detach', { target: { kind: 'netns', value: c }, ifname: 'eth1' })).code, 0);
      } finally {
        await sh.run('ip', ['netns', 'del', c], { allowFail: true });
      }
    }
  });

  it('host rotate-cert: new certificate in use, the old serial revoked', async () => {
    const r = await fleetnet('host', 'rotate-cert', 'h1', '--addr', `${H.h1!.addr}:7441`, '--controller-dir', join(dir, 'ctl'), '--json');
    assert.equal(r.code, 0, r.stderr);
    const { oldSerial, newSerial } = JSON.parse(r.stdout) as { oldSerial: string; newSerial: string };
    assert.notEqual(oldSerial, newSerial);
    const revoked = JSON.parse(readFileSync(join(dir, 'ctl', 'revoked.json'), 'utf8')) as { serial: string }[];
    assert.ok(revoked.some((x) => x.serial === oldSerial));
    assert.equal((await agentCall(H.h1!, 'list')).code, 0, 'still obeys the controller after rotation');
  });

  it('without systemd, the supervisor restarts an agent that dies', async () => {
    const pids = (await sh.run('ip', ['netns', 'pids', H.h3!.ns])).stdout.split('\n').filter(Boolean);
    const agentPid = pids.find((p) => {
      try {
        const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
        return cmd.includes('run') && cmd.includes('agent') && !cmd.includes('supervise');
      } catch {
        return false;
      }
    });
    assert.ok(agentPid, 'the agent runs in h3');
    await sh.run('kill', ['-KILL', agentPid]);
    let r = await agentCall(H.h3!, 'list');
    for (let i = 0; i < 20 && r.code !== 0; i++) r = await agentCall(H.h3!, 'list');
    assert.equal(r.code, 0, `the agent came back: ${r.stderr}`);
    assert.match(readFileSync(join(H.h3!.priv['/var/lib/fleetnet'], 'agent.log'), 'utf8'), /agent exited \(SIGKILL\); restarting/);
  });

  it('bad input exits 2 naming the problem, before any connection', async () => {
    for (const [args, msg] of [
      [['host', 'add', 'H!', '--ssh', `root@${H.h4!.addr}`], /host id "H!" is not usable/],
      [['host', 'add', 'h4', '--ssh', 'root@a;b'], /is not USER@ADDRESS/],
      [['host', 'add', 'h4'], /host add needs NAME/],
      [['host', 'add', 'h4', '--ssh', `root@${H.h4!.addr}`, '--token-ttl', '5x'], /duration "5x" is not valid/],
    ] as [string[], RegExp][]) {
      const r = await fleetnet(...args, ...common());
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, msg);
    }
    assert.deepEqual(installedFiles(H.h4!), []);
  });

  it('a changed host key aborts before anything runs: nothing installed', async () => {
    const other = join(dir, 'other_key');
    await sh.run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const kh = join(dir, 'known_hosts_h4');
    writeFileSync(kh, `${H.h4!.addr} ${readFileSync(`${other}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')}\n`);
    const r = await fleetnet('host', 'add', 'h4', '--ssh', `root@${H.h4!.addr}`, '--identity', lab.identity, '--accept-new',
      '--advertise', `${lab.ctlAddr}:${CTL_PORT}`, '--controller-dir', join(dir, 'ctl'), '--known-hosts', kh);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /does not match/);
    assert.deepEqual(installedFiles(H.h4!), []);
    assert.equal(readFileSync(kh, 'utf8').split('\n').filter(Boolean).length, 1, '--accept-new does not overwrite a pinned key');
  });

  it('host rm --purge: agent stopped, files gone, certificates revoked', async () => {
    const r = await fleetnet('host', 'rm', 'h2', '--purge', '--ssh', `root@${H.h2!.addr}`, '--identity', lab.identity, '--controller-dir', join(dir, 'ctl'), '--known-hosts', join(dir, 'known_hosts'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /certificate\(s\) revoked/);
    assert.deepEqual(installedFiles(H.h2!), []);
    assert.notEqual((await agentCall(H.h2!, 'list')).code, 0, 'no agent answers any more');
  });
});
