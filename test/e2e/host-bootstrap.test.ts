// SSH bootstrap from nothing (the lab: test/helpers/bootstrap-lab.ts): three bare hosts from an
// inventory, Node.js shipped where there is none, then the life of a bootstrapped host: attaches over
// mTLS, certificate rotation, the supervisor, upgrade and removal. What is refused before anything is
// installed, and agents enrolled by join token: host-enroll.test.ts.
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { useBootstrapLab } from '../helpers/bootstrap-lab.js';
import { sh } from '../helpers/netns.js';
import { installedFiles } from '../helpers/ssh-hosts.js';

const { P, dir, H, lab, ctl, fleetnet, agentCall, agentPid, common, ssh } = useBootstrapLab('bs', [
  ['h1', 11],
  ['h2', 12],
  ['h3', 13, { hideNode: true }],
  ['h4', 14],
]);

describe('fleetnet host add over SSH', () => {
  it(
    'bootstraps three bare hosts in parallel from an inventory; ' + 'Node.js is shipped to the host that has none',
    async () => {
      const inv = join(dir, 'hosts.yaml');
      const agentYaml = '# h2 only (fleetnet_agent_config)\nlog-level: debug\nmesh-resync-ms: 20000\n';
      writeFileSync(join(dir, 'h2-agent.yaml'), agentYaml);
      writeFileSync(
        inv,
        [
          '# test fleet (an Ansible YAML inventory)',
          'all:',
          '  vars:',
          '    ansible_user: root',
          `    ansible_ssh_private_key_file: ${lab().identity}`,
          '  hosts:',
          '    h1:',
          `      ansible_host: ${H.h1!.addr}`,
          '    h2:',
          `      ansible_host: ${H.h2!.addr}`,
          `      fleetnet_agent_config: ${join(dir, 'h2-agent.yaml')}`,
          '    h3:',
          `      ansible_host: ${H.h3!.addr}  # Node.js hidden`,
          '',
        ].join('\n'),
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
          '/opt/fleetnet/dist/netlink-worker.cjs',
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
    },
  );

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
        [true, 'in-process route netlink for attaches (setns through koffi), on a thread of its own'],
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
    // the agent's address: the one h1 is registered with
    const r = await fleetnet('host', 'rotate-cert', 'h1', '--json');
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

  it(
    'host upgrade: a new agent on the same settings and certificate; ' +
      'an attachment through the controller stays up',
    async () => {
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
    },
  );

  it('host rm --purge: agent stopped, files gone, certificates revoked', async () => {
    const r = await fleetnet('host', 'rm', 'h2', '--purge', ...ssh(H.h2!));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /certificate\(s\) revoked/);
    assert.deepEqual(installedFiles(H.h2!), []);
    assert.notEqual((await agentCall(H.h2!, 'list')).code, 0, 'no agent answers any more');
  });
});
