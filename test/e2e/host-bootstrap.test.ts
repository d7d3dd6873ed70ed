// SSH bootstrap from nothing: bare hosts (own netns, own mount namespace, own sshd), a controller
// endpoint in its own namespace, and the real `fleetnet` CLI driving it all.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
const ctl = () => `${lab.ctlAddr}:7440`;

// The CLI as on an operator's laptop: its own CLI credential (made by `controller cli-cert`), no
// controller folder anywhere it looks. Only `controller init` and the test's agent calls use the folder.
const laptop = () => ({
  ...process.env,
  HOME: join(dir, 'home'),
  FLEETNET_TLS_DIR: join(dir, 'laptop'),
  FLEETNET_CONTROLLER_DIR: join(dir, 'no-controller-here'),
  FLEETNET_CONTROLLER: '',
});
const admin = () => ({
  ...process.env,
  HOME: join(dir, 'home'),
  FLEETNET_CONTROLLER_DIR: join(dir, 'ctl'),
  FLEETNET_CONTROLLER: '',
});
const inNs = (ns: string, env: NodeJS.ProcessEnv, cmd: string, ...args: string[]) =>
  sh.run('nsenter', [`--net=/run/netns/${ns}`, cmd, ...args], { allowFail: true, timeoutMs: 240_000, env });
const fleetnet = (...args: string[]) => inNs(lab.ctlNs, laptop(), 'node', FLEETNET, '--controller', ctl(), ...args);
const agentCall = (host: SshHost, method: string, req: object = {}) =>
  inNs(
    lab.ctlNs,
    process.env,
    'node',
    '--import',
    'tsx',
    'test/helpers/trust-agent-call.ts',
    join(dir, 'ctl'),
    `${host.addr}:7441`,
    host.name,
    method,
    JSON.stringify(req),
  );
/** The pid of the agent (not its supervisor) running in a host's namespace. */
const agentPid = async (h: SshHost) =>
  (await sh.run('ip', ['netns', 'pids', h.ns])).stdout
    .split('\n')
    .filter(Boolean)
    .find((p) => {
      try {
        const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
        return cmd.includes('run') && cmd.includes('agent') && !cmd.includes('supervise');
      } catch {
        return false;
      }
    });

let snapBefore: Snapshot;
const scope = { netnsPrefixes: [P], cmdlineNeedles: [P, '/opt/fleetnet/'] };

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'fleetnet-bootstrap-'));
  mkdirSync(join(dir, 'home'));
  await sh.run('node', ['scripts/build.mjs']);
  mkdirSync('/run/sshd', { recursive: true }); // sshd's privilege-separation folder: machine setup, not the test's
  snapBefore = await takeSnapshot(scope);
  lab = await makeSshLab(P, dir);
  H.h1 = await lab.addHost('h1', 11);
  H.h2 = await lab.addHost('h2', 12);
  H.h3 = await lab.addHost('h3', 13, { hideNode: true });
  H.h4 = await lab.addHost('h4', 14);
  // on the controller's machine: the CA, and the controller serving the Admin service
  const init = await sh.run('node', [FLEETNET, 'controller', 'init', '--dir', join(dir, 'ctl'), '--token-ttl', '5m']);
  assert.match(init.stdout, /CA:/);
  ctlProc = sh.start(
    'nsenter',
    [
      `--net=/run/netns/${lab.ctlNs}`,
      'node',
      FLEETNET,
      'controller',
      'run',
      '--listen',
      ctl(),
      '--db',
      join(dir, 'state.db'),
      '--trust-dir',
      join(dir, 'ctl'),
      '--log-level',
      'warn',
    ],
    { stdio: 'inherit' },
  );
  for (
    let i = 0;
    (await inNs(lab.ctlNs, admin(), 'node', FLEETNET, '--controller', ctl(), 'host', 'ls')).code !== 0;
    i++
  ) {
    if (i > 100 || ctlProc.exitCode !== null) throw new Error('the controller did not come up');
    await new Promise((r) => setTimeout(r, 100));
  }
  // the laptop's credential: its key made there, signed by the controller over the Admin service
  const cert = await inNs(
    lab.ctlNs,
    admin(),
    'node',
    FLEETNET,
    '--controller',
    ctl(),
    'controller',
    'cli-cert',
    'ops',
    '--out',
    join(dir, 'laptop'),
    '--json',
  );
  assert.equal(cert.code, 0, cert.stderr);
  assert.equal(statSync(join(dir, 'laptop', 'cli.key')).mode & 0o777, 0o600);
});

after(async () => {
  ctlProc?.kill('SIGTERM');
  await lab?.cleanup();
  rmSync(dir, { recursive: true, force: true });
  // hosts, sshds, agents and supervisors, private mounts, installed files: all gone
  assertSnapshotsEqual(snapBefore, await takeSnapshot(scope), [
    P,
    '/opt/fleetnet',
    '/etc/fleetnet',
    '/var/lib/fleetnet',
    '/run/fleetnet/',
  ]);
});

const common = () => ['--advertise', ctl(), '--known-hosts', join(dir, 'known_hosts')];
const ssh = (h: SshHost) => [
  '--ssh',
  `root@${h.addr}`,
  '--identity',
  lab.identity,
  '--known-hosts',
  join(dir, 'known_hosts'),
];

describe('fleetnet host add over SSH', () => {
  it('bootstraps three bare hosts in parallel from an inventory; Node.js is shipped to the host that has none', async () => {
    const inv = join(dir, 'hosts.yaml');
    const agentYaml = '# h2 only (fleetnet_agent_config)\nlog-level: debug\nmesh-resync-ms: 20000\n';
    writeFileSync(join(dir, 'h2-agent.yaml'), agentYaml);
    writeFileSync(
      inv,
      `# test fleet (an Ansible YAML inventory)\nall:\n  vars:\n    ansible_user: root\n    ansible_ssh_private_key_file: ${lab.identity}\n  hosts:\n    h1:\n      ansible_host: ${H.h1!.addr}\n    h2:\n      ansible_host: ${H.h2!.addr}\n      fleetnet_agent_config: ${join(dir, 'h2-agent.yaml')}\n    h3:\n      ansible_host: ${H.h3!.addr}  # Node.js hidden\n`,
    );
    const r = await fleetnet('host', 'add', '--inventory', inv, '--accept-new', '--json', ...common());
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const rows = JSON.parse(r.stdout) as {
      host: string;
      ok: boolean;
      result: { runtime: string; supervisor: string; pinnedNow: boolean; fingerprint: string };
    }[];
    assert.deepEqual(
      rows.map((x) => [x.host, x.ok, x.result.runtime, x.result.supervisor, x.result.pinnedNow]),
      [
        ['h1', true, 'host', 'fleetnet', true],
        ['h2', true, 'host', 'fleetnet', true],
        ['h3', true, 'shipped', 'fleetnet', true],
      ],
    );
    // progress, step by step, for every host (stderr is not a terminal here: one line per event)
    for (const h of ['h1', 'h2', 'h3'])
      for (const step of ['connect', 'check', 'upload', 'configure', 'start', 'register'])
        assert.match(r.stderr, new RegExp(`${h}: ${step} done`));
    for (const h of ['h1', 'h2', 'h3'])
      assert.match(r.stderr, new RegExp(`${h}: upload done.*attaches by in-process netlink`));
    // the pinned keys are the hosts' own
    const known = readFileSync(join(dir, 'known_hosts'), 'utf8');
    for (const h of [H.h1!, H.h2!, H.h3!])
      assert.ok(known.includes(h.hostKeyPub.split(' ')[1]!), `${h.name} key pinned`);
    for (const h of [H.h1!, H.h2!, H.h3!]) {
      const files = installedFiles(h);
      for (const f of [
        '/opt/fleetnet/dist/fleetnet-agent.mjs',
        '/opt/fleetnet/deploy/dhcp-hook',
        '/opt/fleetnet/deploy/dhcp-private-ns',
        '/opt/fleetnet/bin/node',
        '/etc/fleetnet/agent/ca.crt',
        '/etc/fleetnet/agent/agent.env',
        '/var/lib/fleetnet/agent/tls/host.key',
        '/var/lib/fleetnet/agent/tls/host.crt',
        '/opt/fleetnet/node_modules/netlink/package.json',
        '/opt/fleetnet/node_modules/koffi/package.json',
        `/opt/fleetnet/node_modules/@koromix/koffi-linux-${process.arch}/package.json`,
      ]) {
        assert.ok(files.includes(f), `${h.name} has ${f}: ${files.join(' ')}`);
      }
      assert.ok(!files.includes('/etc/fleetnet/agent/join-token'), 'the join token is used up and gone');
      assert.equal(statSync(join(h.priv['/var/lib/fleetnet'], 'agent/tls/host.key')).mode & 0o777, 0o600);
    }
    // the agent settings file: installed on h2 alone, and read by its agent
    assert.equal(readFileSync(join(H.h2!.priv['/etc/fleetnet'], 'agent.yaml'), 'utf8'), agentYaml);
    assert.ok(!installedFiles(H.h1!).includes('/etc/fleetnet/agent.yaml'));
    assert.match(
      readFileSync(join(H.h2!.priv['/var/lib/fleetnet'], 'agent.log'), 'utf8'),
      /"config":"\/etc\/fleetnet\/agent.yaml".*settings file read/,
    );
    assert.match(r.stderr, /h2: configure done.*\/etc\/fleetnet\/agent.yaml/);
    // registered with the controller, which the agents answer over mTLS
    const ls = await fleetnet('host', 'ls', '--json');
    assert.deepEqual((JSON.parse(ls.stdout) as { name: string }[]).map((h) => h.name).sort(), ['h1', 'h2', 'h3']);
    // h3 got a real Node.js binary; h1 a link to its own (lab hosts share this machine's files: its node)
    assert.ok(statSync(join(H.h3!.priv['/opt/fleetnet'], 'bin/node')).size > 10_000_000);
    const ownNode = (await sh.run('sh', ['-c', 'command -v node'])).stdout.trim();
    assert.equal((await sh.run('readlink', [join(H.h1!.priv['/opt/fleetnet'], 'bin/node')])).stdout.trim(), ownNode);
  });

  it('a host that already has an agent is refused and left as it was', async () => {
    const before = installedFiles(H.h1!).sort();
    const r = await fleetnet('host', 'add', 'h1', ...ssh(H.h1!), '--advertise', ctl());
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /already has a fleetnet agent installed/);
    assert.deepEqual(installedFiles(H.h1!).sort(), before);
    assert.equal((await agentCall(H.h1!, 'list')).code, 0);
  });

  it('an attach works through each new agent over mTLS, in-process netlink included', async () => {
    for (const h of [H.h1!, H.h2!, H.h3!]) {
      const caps = await agentCall(h, 'capabilities');
      assert.equal(caps.code, 0, caps.stderr);
      const netlink = (
        JSON.parse(caps.stdout) as { capabilities: { name: string; available: boolean; detail: string }[] }
      ).capabilities.find((x) => x.name === 'netlink');
      assert.deepEqual(
        [netlink?.available, netlink?.detail],
        [true, 'in-process route netlink for attaches (setns through koffi)'],
        `${h.name}: the uploaded native modules load`,
      );
      const c = `${P}-c${h.name}`;
      await sh.run('ip', ['netns', 'add', c]);
      try {
        const r = await agentCall(h, 'attach', {
          hostIf: 'br-t',
          target: { kind: 'netns', value: c },
          addresses: [{ static: { cidr: '10.9.0.2/24', gateway: '' } }],
        });
        assert.equal(r.code, 0, r.stderr);
        assert.match((await sh.run('ip', ['-n', c, '-4', 'addr', 'show'])).stdout, /10\.9\.0\.2\/24/);
        assert.equal((await agentCall(h, 'detach', { target: { kind: 'netns', value: c }, ifname: 'eth1' })).code, 0);
      } finally {
        await sh.run('ip', ['netns', 'del', c], { allowFail: true });
      }
    }
  });

  it('host rotate-cert, from the laptop: new certificate in use, the old serial revoked', async () => {
    const r = await fleetnet('host', 'rotate-cert', 'h1', '--json'); // the agent's address: the one h1 is registered with
    assert.equal(r.code, 0, r.stderr);
    const { oldSerial, newSerial } = JSON.parse(r.stdout) as { oldSerial: string; newSerial: string };
    assert.notEqual(oldSerial, newSerial);
    const revoked = JSON.parse(readFileSync(join(dir, 'ctl', 'revoked.json'), 'utf8')) as { serial: string }[];
    assert.ok(revoked.some((x) => x.serial === oldSerial));
    assert.equal((await agentCall(H.h1!, 'list')).code, 0, 'still obeys the controller after rotation');
  });

  it('without systemd, the supervisor restarts an agent that dies', async () => {
    const pid = await agentPid(H.h3!);
    assert.ok(pid, 'the agent runs in h3');
    await sh.run('kill', ['-KILL', pid]);
    let r = await agentCall(H.h3!, 'list');
    for (let i = 0; i < 20 && r.code !== 0; i++) r = await agentCall(H.h3!, 'list');
    assert.equal(r.code, 0, `the agent came back: ${r.stderr}`);
    assert.match(
      readFileSync(join(H.h3!.priv['/var/lib/fleetnet'], 'agent.log'), 'utf8'),
      /agent exited \(SIGKILL\); restarting/,
    );
  });

  it('host upgrade: a new agent on the same settings and certificate; an attachment through the controller stays up', async () => {
    assert.equal((await fleetnet('net', 'create', 'blue', '--subnet', '10.9.0.0/24')).code, 0);
    const c = `${P}-cup`;
    await sh.run('ip', ['netns', 'add', c]);
    try {
      const at = await fleetnet('attach', '--host', 'h1', `netns:${c}`, '10.9.0.21/24');
      assert.equal(at.code, 0, at.stdout + at.stderr);
      const before = await agentPid(H.h1!);
      const certBefore = readFileSync(join(H.h1!.priv['/var/lib/fleetnet'], 'agent/tls/host.crt'), 'utf8');
      const r = await fleetnet('host', 'upgrade', 'h1', ...ssh(H.h1!), '--json');
      assert.equal(r.code, 0, r.stdout + r.stderr);
      for (const step of ['connect', 'check', 'upload', 'restart', 'register'])
        assert.match(r.stderr, new RegExp(`h1: ${step} done`));
      const [row] = JSON.parse(r.stdout) as { host: string; ok: boolean; result: { supervisor: string } }[];
      assert.deepEqual([row?.host, row?.ok, row?.result.supervisor], ['h1', true, 'fleetnet']);
      const after = await agentPid(H.h1!);
      assert.ok(before && after && before !== after, `a new agent process (${before} -> ${after})`);
      assert.equal(
        readFileSync(join(H.h1!.priv['/var/lib/fleetnet'], 'agent/tls/host.crt'), 'utf8'),
        certBefore,
        'the same certificate',
      );
      assert.match(
        (await sh.run('ip', ['-n', c, '-4', 'addr', 'show'])).stdout,
        /10\.9\.0\.21\/24/,
        'the container keeps its interface',
      );
      const list = await agentCall(H.h1!, 'list');
      assert.equal(list.code, 0, list.stderr);
      assert.ok(
        (JSON.parse(list.stdout) as { interfaces: { addresses: string[] }[] }).interfaces.some((i) =>
          i.addresses.includes('10.9.0.21/24'),
        ),
        'the new agent knows it',
      );
      const ls = await fleetnet('ls', '--json');
      assert.match(ls.stdout, /10\.9\.0\.21\/24/);
      assert.equal((await fleetnet('detach', '--host', 'h1', `netns:${c}`)).code, 0);
    } finally {
      await sh.run('ip', ['netns', 'del', c], { allowFail: true });
    }
    const none = await fleetnet('host', 'upgrade', 'h4', ...ssh(H.h4!), '--accept-new');
    assert.equal(none.code, 1, none.stdout + none.stderr);
    assert.match(none.stdout, /h4 has no fleetnet agent installed/);
  });

  it('bad input exits 2 naming the problem, before any connection', async () => {
    writeFileSync(join(dir, 'bad-agent.yaml'), 'log-level: info\novs-datapth: netdev\n');
    writeFileSync(join(dir, 'listen-agent.yaml'), 'listen: 10.231.0.14:7441\n');
    for (const [args, msg] of [
      [['host', 'add', 'H!', '--ssh', `root@${H.h4!.addr}`], /host id "H!" is not usable/],
      [['host', 'add', 'h4', '--ssh', 'root@a;b'], /is not USER@ADDRESS/],
      [['host', 'add', 'h4'], /host add needs NAME/],
      [['host', 'add', 'h4', '--ssh', `root@${H.h4!.addr}`, '--token-ttl', '5x'], /duration "5x" is not valid/],
      [
        ['host', 'add', 'h4', '--ssh', `root@${H.h4!.addr}`, '--agent-config', join(dir, 'bad-agent.yaml')],
        /bad-agent.yaml:2: unknown key 'ovs-datapth'/,
      ],
      [
        ['host', 'add', 'h4', '--ssh', `root@${H.h4!.addr}`, '--agent-config', join(dir, 'listen-agent.yaml')],
        /key 'listen' is set by the install/,
      ],
    ] as [string[], RegExp][]) {
      const r = await fleetnet(...args, ...common());
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, msg);
    }
    for (const [args, msg] of [
      [['host', 'token', 'h4', '--ttl', 'soon'], /--ttl: duration "soon" is not valid/],
      [['host', 'upgrade', 'h4'], /host upgrade over SSH needs NAME and --ssh/],
    ] as [string[], RegExp][]) {
      const r = await fleetnet(...args);
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
    const r = await fleetnet(
      'host',
      'add',
      'h4',
      '--ssh',
      `root@${H.h4!.addr}`,
      '--identity',
      lab.identity,
      '--accept-new',
      '--advertise',
      ctl(),
      '--known-hosts',
      kh,
    );
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /does not match/);
    assert.deepEqual(installedFiles(H.h4!), []);
    assert.equal(
      readFileSync(kh, 'utf8').split('\n').filter(Boolean).length,
      1,
      '--accept-new does not overwrite a pinned key',
    );
  });

  it('host token: an agent started by hand enrolls with it; without one, host add --addr says what to run', async () => {
    const h4 = H.h4!;
    const listen = `${h4.addr}:7441`;
    const byHand = (name: string, extra: string[]) => [
      'node',
      FLEETNET,
      'agent',
      'run',
      '--socket',
      join(dir, `${name}.sock`),
      '--state-dir',
      join(dir, name),
      '--listen',
      listen,
      '--host-name',
      'h4',
      '--docker-socket',
      join(dir, 'no-docker.sock'),
      '--log-level',
      'warn',
      ...extra,
    ];
    const up = async () => {
      for (
        let i = 0;
        (await inNs(lab.ctlNs, process.env, 'bash', '-c', 'exec 3<>/dev/tcp/$1/7441', 'bash', h4.addr)).code !== 0;
        i++
      ) {
        if (i > 100) throw new Error('the agent on h4 does not listen');
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    // an agent started without a join token: it answers, but not to the controller
    const open = sh.start('nsenter', [`--net=/run/netns/${h4.ns}`, ...byHand('h4-open', [])], { stdio: 'inherit' });
    try {
      await up();
      const add = await fleetnet('host', 'add', 'h4', '--addr', listen);
      assert.equal(add.code, 1, add.stdout + add.stderr);
      assert.match(add.stderr, /the agent at .* answers but is not enrolled with this controller/);
      assert.match(add.stderr, new RegExp(`fleetnet host token h4 --listen ${listen}`));
      assert.match(
        add.stderr,
        new RegExp(`fleetnet agent run --listen ${listen} --host-name h4 --controller ${ctl()} .*--join-token-file`),
      );
      assert.ok(!(await fleetnet('host', 'ls')).stdout.includes('h4'), 'nothing recorded');
    } finally {
      open.kill('SIGTERM');
      await new Promise((r) => (open.exitCode === null ? open.once('exit', r) : r(undefined)));
    }
    const token = async (host: string, ...args: string[]) => {
      const r = await fleetnet(
        'host',
        'token',
        host,
        '--out',
        join(dir, `${host}-join${args.length}`),
        '--json',
        ...args,
      );
      assert.equal(r.code, 0, r.stderr);
      return {
        ...(JSON.parse(r.stdout) as { token: string; agentRun: string[] }),
        dir: join(dir, `${host}-join${args.length}`),
      };
    };
    // An agent whose token is refused exits at once (exit 2). The wait is bounded (60 s, far above the
    // few seconds it takes) so that one that stays up fails here, saying so, instead of hanging the file.
    const REFUSED_EXIT_MS = 60_000;
    const enroll = async (name: string, t: { dir: string }, tokenFile = join(t.dir, 'join-token')) => {
      const argv = byHand(name, [
        '--controller',
        ctl(),
        '--ca-file',
        join(t.dir, 'ca.crt'),
        '--join-token-file',
        tokenFile,
      ]);
      const r = await sh.run('nsenter', [`--net=/run/netns/${h4.ns}`, ...argv], {
        allowFail: true,
        timeoutMs: REFUSED_EXIT_MS,
      });
      const stuck =
        `agent run with a refused join token (${name}) did not exit within ${REFUSED_EXIT_MS / 1000} s and was killed: ` +
        'something it started before enrolling keeps the process alive';
      assert.ok(!/killed by SIG/.test(r.stderr), `${stuck}\n${r.stderr}`);
      return r;
    };
    // a token for another host, and an expired one: the agent stops at once, exit 2, the problem named
    const other = await token('h5');
    let r = await enroll('h4-other', other);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /join token refused: it was made for host h5, not h4/);
    const short = await token('h4', '--ttl', '1s', '--listen', listen);
    await new Promise((res) => setTimeout(res, 1500));
    r = await enroll('h4-late', short);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /join token refused: expired/);
    // a good one: the agent enrolls, and host add --addr takes it
    const good = await token('h4', '--listen', listen, '--ttl', '1h');
    assert.match(good.token, /^fnj_/);
    assert.equal(statSync(join(good.dir, 'join-token')).mode & 0o777, 0o600);
    assert.deepEqual(good.agentRun.slice(0, 7), ['fleetnet', 'agent', 'run', '--listen', listen, '--host-name', 'h4']);
    writeFileSync(join(dir, 'h4-token-copy'), readFileSync(join(good.dir, 'join-token')));
    const agent = sh.start(
      'nsenter',
      [
        `--net=/run/netns/${h4.ns}`,
        ...byHand('h4', [
          '--controller',
          ctl(),
          '--ca-file',
          join(good.dir, 'ca.crt'),
          '--join-token-file',
          join(good.dir, 'join-token'),
        ]),
      ],
      { stdio: 'inherit' },
    );
    try {
      await up();
      const add = await fleetnet('host', 'add', 'h4', '--addr', listen, '--json');
      assert.equal(add.code, 0, add.stdout + add.stderr);
      assert.equal((await agentCall(h4, 'list')).code, 0, 'h4 answers the controller over mTLS');
      assert.ok(!existsSync(join(good.dir, 'join-token')), 'the token is used up and gone');
      // the same token again (a copy): used
      r = await enroll('h4-again', good, join(dir, 'h4-token-copy'));
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /join token refused: unknown or already used/);
      assert.equal((await fleetnet('host', 'rm', 'h4')).code, 0);
    } finally {
      agent.kill('SIGTERM');
      await new Promise((res) => (agent.exitCode === null ? agent.once('exit', res) : res(undefined)));
    }
  });

  it('host rm --purge: agent stopped, files gone, certificates revoked', async () => {
    const r = await fleetnet('host', 'rm', 'h2', '--purge', ...ssh(H.h2!));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /certificate\(s\) revoked/);
    assert.deepEqual(installedFiles(H.h2!), []);
    assert.notEqual((await agentCall(H.h2!, 'list')).code, 0, 'no agent answers any more');
  });
});
