// The lab fleet, for real: 3 hosts with their own OVS and agents, reachable over the underlay,
// and nothing left behind by `down` (before/after snapshots equal).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ExecRunner } from '../../common/runner.js';
import { agentHealth, fleetnetRoot } from '../../lab/agents.js';
import { labDown } from '../../lab/down.js';
import { labList } from '../../lab/list.js';
import { labUp, type LabHostInfo } from '../../lab/up.js';
import { isLabNetns, layoutOf, parseUnderlay } from '../../lab/layout.js';
import { ensureBuilt } from '../helpers/build.js';
import { labScope, useLab } from '../helpers/lab-fixture.js';
import { newRunId } from '../helpers/docker.js';
import { assertSnapshotsEqual, takeSnapshot } from '../helpers/snapshot.js';

const runner = new ExecRunner();
const name = newRunId('l'); // l + 6 hex: unique per run
const scope = labScope(name);

let bin = '';
before(async () => {
  bin = await ensureBuilt(runner);
});
after(async () => {
  await labDown({ name }); // whatever a failed test left
});

test(
  '3 hosts come up, agents answer Health on their sockets and over TCP from another host, ' + 'down leaves nothing',
  async () => {
    const snapBefore = await takeSnapshot(scope);
    const lab = await labUp({ name, hosts: 3 });
    assert.equal(lab.hosts.length, 3);
    assert.deepEqual(
      lab.hosts.map((h) => h.netns),
      [`${name}-h1`, `${name}-h2`, `${name}-h3`],
    );
    assert.deepEqual(
      lab.hosts.map((h) => h.underlayIp),
      ['10.99.0.11', '10.99.0.12', '10.99.0.13'],
    );

    for (const h of lab.hosts) {
      const health = await agentHealth(h.agentSocket);
      assert.equal(health.status, 'ok');
      assert.equal(health.hostname, h.name);
    }

    // Over TCP, from the next host's namespace: the agent listens on its underlay address.
    const probe = join(fleetnetRoot(), 'test', 'helpers', 'health-probe.ts');
    for (const [i, h] of lab.hosts.entries()) {
      const from: LabHostInfo = lab.hosts[(i + 1) % lab.hosts.length]!;
      // tsx by its resolved URL, so the probe runs whatever the current folder is.
      const r = await runner.run(
        'ip',
        ['netns', 'exec', from.netns, process.execPath, '--import', import.meta.resolve('tsx'), probe, h.listen],
        { timeoutMs: 30_000 },
      );
      const reply = JSON.parse(r.stdout) as { status: string; hostname: string };
      assert.equal(reply.status, 'ok', `${h.name} over TCP from ${from.name}`);
      assert.equal(reply.hostname, h.name);
    }

    // Two hosts ping over the underlay (through br-phy of both user-space OVS instances).
    const ping = await runner.run('ip', ['netns', 'exec', `${name}-h2`, 'ping', '-c', '2', '-W', '3', '10.99.0.13'], {
      allowFail: true,
    });
    assert.equal(ping.code, 0, ping.stdout + ping.stderr);

    // The host's underlay address lives on br-phy, an OVS bridge with the netdev datapath, ul0 its port.
    const ovsDb = lab.hosts[0]!.ovsDb;
    const dp = await runner.run('ovs-vsctl', [`--db=${ovsDb}`, 'get', 'bridge', 'br-phy', 'datapath_type']);
    assert.equal(dp.stdout.trim(), 'netdev');
    const ports = await runner.run('ovs-vsctl', [`--db=${ovsDb}`, 'list-ports', 'br-phy']);
    assert.deepEqual(ports.stdout.trim().split('\n'), ['ul0']);
    const addrs = JSON.parse(
      (await runner.run('ip', ['-n', `${name}-h1`, '-json', 'addr', 'show', 'br-phy'])).stdout,
    ) as { addr_info: { local: string }[] }[];
    assert.ok(addrs[0]!.addr_info.some((a) => a.local === '10.99.0.11'));

    const listed = (await labList()).find((l) => l.name === name);
    assert.ok(listed, 'lab ls shows the lab');
    assert.equal(listed.ready, true);
    assert.deepEqual(
      listed.hosts.map((h) => h.health),
      ['ok', 'ok', 'ok'],
    );

    // The CLI sees it too, and a second `up` with the same name is refused without touching it.
    const ls = await runner.run(process.execPath, [bin, 'lab', 'ls', '--json']);
    const mine = (JSON.parse(ls.stdout) as { name: string; hosts: { health: string }[] }[]).find(
      (l) => l.name === name,
    );
    assert.deepEqual(
      mine?.hosts.map((h) => h.health),
      ['ok', 'ok', 'ok'],
    );
    const [q, tpl, yml] = await Promise.all(
      [['-q'], ['--format', '{{lab}} {{name}} {{underlayIp}}'], ['-o', 'yaml']].map((o) =>
        runner.run(process.execPath, [bin, 'lab', 'ls', ...o]),
      ),
    );
    assert.deepEqual(
      q!.stdout.split('\n').filter((l) => l.startsWith(`${name}-`)),
      [`${name}-h1`, `${name}-h2`, `${name}-h3`],
    );
    assert.ok(tpl!.stdout.split('\n').includes(`${name} h2 10.99.0.12`), tpl!.stdout);
    assert.match(yml!.stdout, new RegExp(`- name: ${name}\\n`));
    const again1 = await runner.run(process.execPath, [bin, 'lab', 'up', '--hosts', '1', '--name', name], {
      allowFail: true,
    });
    assert.equal(again1.code, 1, again1.stderr);
    assert.match(again1.stderr, /exists already[\s\S]*lab down --name/);
    assert.equal((await agentHealth(lab.hosts[0]!.agentSocket)).status, 'ok', 'the refused up left the lab alone');

    const down = await labDown({ name });
    assert.equal(down.netns.length, 4);
    assert.ok(
      down.processes.length >= 9,
      `ovsdb-server, ovs-vswitchd and agent per host: ${JSON.stringify(down.processes)}`,
    );
    const again = await labDown({ name });
    assert.deepEqual(
      [again.netns, again.processes, again.containers, again.removedDir],
      [[], [], [], false],
      'down is idempotent',
    );
    assertSnapshotsEqual(snapBefore, await takeSnapshot(scope), [name]);
  },
);

test('a lab name that is not a short prefix is refused before anything runs', async () => {
  await assert.rejects(
    labUp({ name: 'Bad-Name', hosts: 1 }),
    (e: Error & { kind?: string }) => e.kind === 'invalid' && /a-z and 0-9/.test(e.message),
  );
  await assert.rejects(labUp({ name: 'x', hosts: 0 }), (e: Error & { kind?: string }) => e.kind === 'invalid');
  await assert.rejects(
    labUp({ name: 'x', hosts: 2, underlay: '10.99.0.0/29' }),
    (e: Error & { kind?: string }) => e.kind === 'invalid' && /no room/.test(e.message),
  );
});

test('fleetnet lab up with bad input exits 2, names the problem and makes nothing', async () => {
  for (const [args, msg] of [
    [['--name', 'Bad_1'], /lab name 'Bad_1' is not 1-8 characters/],
    [['--hosts', 'x'], /--hosts x is not a number/],
    [['--hosts', '99'], /--hosts 99 is not a whole number from 1 to 64/],
    [['--underlay', '10.99.0.1/24'], /./],
    [['--underlay', 'fd00::/64'], /not IPv4/],
  ] as const) {
    const r = await runner.run(process.execPath, [bin, 'lab', 'up', '--name', `${name}x`, ...args], {
      allowFail: true,
    });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, msg);
  }
  assert.equal(
    (await labList()).some((l) => l.name === `${name}x`),
    false,
  );
});

test("lab names derive from the prefix: interface names fit 15 bytes, other labs' namespaces are not ours", () => {
  const lab = layoutOf('abcdefgh', 32, parseUnderlay('10.99.0.0/24', 32));
  for (const h of lab.hosts)
    assert.ok(Buffer.byteLength(h.switchPort) <= 15 && Buffer.byteLength(h.netns) <= 15, h.netns);
  assert.equal(lab.hosts[31]!.underlayIp, '10.99.0.42');
  assert.equal(lab.hosts[0]!.ovsDb, 'unix:/run/fleetnet-lab/abcdefgh/h1/ovs/db.sock');
  assert.ok(isLabNetns('lab', 'lab-sw') && isLabNetns('lab', 'lab-h12'));
  for (const other of ['lab2-h1', 'lab-h1x', 'lab-', 'xlab-h1', 'lab-hh1', 'lab-sw2'])
    assert.equal(isLabNetns('lab', other), false, other);
});

test('useLab: a 2-host lab without agents on another underlay, removed after the test', async (t) => {
  const lab = await useLab(t, { hosts: 2, agents: false, underlay: '10.98.0.0/24' });
  assert.deepEqual(
    lab.hosts.map((h) => h.underlayIp),
    ['10.98.0.11', '10.98.0.12'],
  );
  const ping = await runner.run(
    'ip',
    ['netns', 'exec', lab.hosts[1]!.netns, 'ping', '-c', '1', '-W', '3', '10.98.0.11'],
    { allowFail: true },
  );
  assert.equal(ping.code, 0, ping.stdout + ping.stderr);
  assert.equal(existsSync(lab.hosts[0]!.agentSocket), false, 'no agent was started');
});

test("lab up refuses while a namespace named like the lab's exists and leaves it", async () => {
  const other = newRunId('m');
  await runner.run('ip', ['netns', 'add', `${other}-c1`]);
  try {
    await assert.rejects(
      labUp({ name: other, hosts: 1, agents: false }),
      (e: Error & { kind?: string }) => e.kind === 'conflict' && e.message.includes(`${other}-c1`),
    );
    assert.ok(existsSync(`/run/netns/${other}-c1`), 'the namespace the lab did not make is still there');
    assert.equal(existsSync(`/run/netns/${other}-sw`), false, 'nothing was made');
    assert.equal(existsSync(join('/run/fleetnet-lab', other)), false);
  } finally {
    await labDown({ name: other }); // a lab wrongly built (its namespace too)
    await runner.run('ip', ['netns', 'del', `${other}-c1`], { allowFail: true });
  }
});
