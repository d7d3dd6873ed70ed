// The mesh driven by the controller on a lab: `net create --mesh gre`, `mesh add` for h1..h3
// (each join: one new tunnel on every existing member), Docker containers attached through the
// controller ping across hosts over OVS GRE, `mesh status` for the fleet, `mesh rm`.
// The controller runs inside h1's namespace on its underlay address; the CLI talks to it there.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { after, before, test } from 'node:test';
import { ExecRunner } from '../../common/runner.js';
import { labDown, LAB_LABEL } from '../../lab/down.js';
import { ensureBusyboxImage, runBusybox } from '../../lab/image.js';
import { labUp, type LabUpResult } from '../../lab/up.js';
import { ensureBuilt } from '../helpers/build.js';
import { newRunId } from '../helpers/docker.js';

const runner = new ExecRunner();
const name = newRunId('k');
const dir = mkdtempSync(join(tmpdir(), 'fleetnet-meshctl-'));
let bin = '';
let lab: LabUpResult;
let ctl: ChildProcess | undefined;
const CTL = '10.99.0.11:7440';

const cli = (...args: string[]) =>
  runner.run('ip', ['netns', 'exec', lab.hosts[0]!.netns, 'node', bin, '--controller', CTL, ...args], {
    allowFail: true,
    timeoutMs: 90_000,
  });

before(async () => {
  bin = await ensureBuilt(runner);
  await ensureBusyboxImage(runner);
  lab = await labUp({ name, hosts: 3 });
  ctl = runner.start(
    'ip',
    [
      'netns',
      'exec',
      lab.hosts[0]!.netns,
      'node',
      bin,
      'controller',
      'run',
      '--listen',
      CTL,
      '--db',
      join(dir, 'state.db'),
      '--log-level',
      'warn',
      '--resync-ms',
      '2000',
    ],
    { stdio: 'inherit' },
  );
  for (let i = 0; i < 100 && (await cli('hosts', '--json')).code !== 0; i++)
    await new Promise((r) => setTimeout(r, 200));
  for (const h of lab.hosts) {
    const r = await cli('host', 'add', h.name, '--addr', h.listen);
    assert.equal(r.code, 0, r.stderr);
  }
});

after(async () => {
  if (ctl && ctl.exitCode === null) {
    const exited = new Promise((r) => ctl!.once('exit', r));
    ctl.kill('SIGTERM');
    await exited;
  }
  await labDown({ name });
  rmSync(dir, { recursive: true, force: true });
});

/** Each tunnel as host>peer:state, sorted; and all six of a 3-host mesh up. */
const tunnelStates = (ts: { host: string; peer: string; state: string }[]) =>
  ts.map((t) => `${t.host}>${t.peer}:${t.state}`).sort();
const ALL_UP = ['h1>h2:up', 'h1>h3:up', 'h2>h1:up', 'h2>h3:up', 'h3>h1:up', 'h3>h2:up'];

test(
  'net create --mesh gre; mesh add h1..h3 (one change per existing member); containers ping over GRE; mesh status; ' +
    'mesh rm',
  async () => {
    const n = await cli(
      'net',
      'create',
      'blue',
      '--subnet',
      '10.1.1.0/24',
      '--kind',
      'ovs',
      '--bridge',
      'ovs-blue',
      '--mesh',
      'gre',
      '--json',
    );
    assert.equal(n.code, 0, n.stderr);
    const net = JSON.parse(n.stdout) as { mesh: string; meshKey: number };
    assert.deepEqual([net.mesh, net.meshKey], ['gre', 100]);
    // Same subnet, its own key: picked free.
    const red = await cli(
      'net',
      'create',
      'red',
      '--subnet',
      '10.1.1.0/24',
      '--kind',
      'ovs',
      '--bridge',
      'ovs-red',
      '--mesh',
      'gre',
      '--json',
    );
    assert.equal(JSON.parse(red.stdout).meshKey, 101);

    for (const [i, h] of ['h1', 'h2', 'h3'].entries()) {
      // The last join waits until every tunnel of blue is up (one command for a usable join).
      const r = await cli('mesh', 'add', h, '--net', 'blue', '--json', ...(h === 'h3' ? ['--wait', '60'] : []));
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const res = JSON.parse(r.stdout) as {
        changed: boolean;
        hosts: { host: string; added: number; removed: number; error: string }[];
        tunnels?: { host: string; peer: string; state: string }[];
      };
      if (h === 'h3') assert.deepEqual(tunnelStates(res.tunnels ?? []), ALL_UP);
      assert.equal(res.changed, true);
      // The newcomer gets a tunnel to each existing member; each existing member exactly one.
      assert.deepEqual(
        res.hosts.map((x) => [x.host, x.added, x.removed, x.error]).sort(),
        ['h1', 'h2', 'h3']
          .slice(0, i + 1)
          .map((x) => [x, x === h ? i : 1, 0, ''])
          .sort(),
      );
    }
    const again = JSON.parse((await cli('mesh', 'add', 'h2', '--net', 'blue', '--json')).stdout) as {
      changed: boolean;
    };
    assert.equal(again.changed, false);
    // One call that answers once every tunnel is up: each agent replies when its BFD sessions are.
    const waited = await cli('mesh', 'status', '--net', 'blue', '--wait', '60', '--json');
    assert.equal(waited.code, 0, waited.stderr + waited.stdout);
    assert.deepEqual(
      tunnelStates((JSON.parse(waited.stdout) as { tunnels: { host: string; peer: string; state: string }[] }).tunnels),
      ALL_UP,
    );

    const web = [`${name}-w1`, `${name}-w3`];
    for (const [i, w] of web.entries()) {
      await runBusybox(runner, { name: w, labels: [`${LAB_LABEL}=${name}`] });
      const r = await cli(
        'attach',
        '--host',
        i === 0 ? 'h1' : 'h3',
        '--net',
        'blue',
        w,
        `10.1.1.${i === 0 ? 1 : 3}/24`,
      );
      assert.equal(r.code, 0, r.stderr);
      // No --mtu, none on the network: the mesh's (1500 - 42 for GRE).
      assert.equal((await runner.run('docker', ['exec', w, 'cat', '/sys/class/net/eth1/mtu'])).stdout.trim(), '1458');
    }
    let ok = false;
    for (let i = 0; i < 10 && !ok; i++)
      ok =
        (await runner.run('docker', ['exec', web[0]!, 'ping', '-c', '1', '-W', '2', '10.1.1.3'], { allowFail: true }))
          .code === 0;
    assert.ok(ok, 'h1 -> h3 over the controller-made GRE mesh');

    let st: { tunnels: { host: string; peer: string; state: string }[] } = { tunnels: [] };
    for (let i = 0; i < 30; i++) {
      st = JSON.parse((await cli('mesh', 'status', '--net', 'blue', '--json')).stdout);
      if (st.tunnels.length === 6 && st.tunnels.every((t) => t.state === 'up')) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.deepEqual(tunnelStates(st.tunnels), ALL_UP);

    // topology through the controller: the live fleet's hosts, the blue bridge, its tunnels and containers.
    const topo = await cli('topology', '-o', 'json');
    assert.equal(topo.code, 0, topo.stderr);
    const tj = JSON.parse(topo.stdout) as {
      hosts: {
        name: string;
        networks: {
          name: string;
          bridge: string;
          containers: { name: string }[];
          tunnels: { peer: string; state: string }[];
        }[];
      }[];
    };
    const blueOf = (h: string) => tj.hosts.find((x) => x.name === h)?.networks.find((n) => n.name === 'blue');
    assert.deepEqual(
      ['h1', 'h2', 'h3'].map((h) => blueOf(h)?.bridge),
      ['ovs-blue', 'ovs-blue', 'ovs-blue'],
      topo.stdout,
    );
    assert.deepEqual(
      blueOf('h1')!.containers.map((c) => c.name),
      [web[0]],
    );
    assert.deepEqual(
      blueOf('h1')!
        .tunnels.map((x) => `${x.peer}:${x.state}`)
        .sort(),
      ['h2:up', 'h3:up'],
    );
    const tree = await cli('topology');
    assert.match(
      tree.stdout,
      new RegExp(`blue: ovs-blue \\(ovs, gre mesh\\)[\\s\\S]*<-> h2 up[\\s\\S]*${web[1]} eth1 10\\.1\\.1\\.3/24`),
    );
    const svg = await cli('topology', '-o', 'svg');
    assert.equal(svg.code, 0, svg.stderr);
    assert.match(svg.stdout, /<svg[\s\S]*h3[\s\S]*<\/svg>/);

    const rm = await cli('mesh', 'rm', 'h3', '--net', 'blue', '--json');
    assert.equal(rm.code, 0, rm.stderr);
    assert.deepEqual(
      (JSON.parse(rm.stdout) as { hosts: { host: string; removed: number }[] }).hosts
        .map((x) => [x.host, x.removed])
        .sort(),
      [
        ['h1', 1],
        ['h2', 1],
        ['h3', 2],
      ],
    );
    assert.notEqual(
      (await runner.run('docker', ['exec', web[0]!, 'ping', '-c', '1', '-W', '2', '10.1.1.3'], { allowFail: true }))
        .code,
      0,
    );

    const bad = await cli('mesh', 'add', 'h9', '--net', 'blue');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /no host named h9/);
    // A meshed network removed: its tunnels go from the members' bridges.
    const violet = await cli(
      'net',
      'create',
      'violet',
      '--subnet',
      '10.3.3.0/24',
      '--kind',
      'ovs',
      '--bridge',
      'ovs-vio',
      '--mesh',
      'vxlan',
    );
    assert.equal(violet.code, 0, violet.stderr);
    for (const h of ['h1', 'h2']) assert.equal((await cli('mesh', 'add', h, '--net', 'violet')).code, 0);
    const ports = async () =>
      (await runner.run('ovs-vsctl', [`--db=${lab.hosts[0]!.ovsDb}`, 'list-ports', 'ovs-vio'])).stdout.trim();
    assert.match(await ports(), /^fv[0-9a-f]{12}$/);
    assert.equal((await cli('net', 'rm', 'violet')).code, 0);
    // Its tunnel ports go, and the bridge the mesh made for it (br-exists: exit 2 when there is none).
    const bridgeThere = async () =>
      (await runner.run('ovs-vsctl', [`--db=${lab.hosts[0]!.ovsDb}`, 'br-exists', 'ovs-vio'], { allowFail: true }))
        .code !== 2;
    let gone = false;
    for (let i = 0; i < 50 && !gone; i++) {
      gone = !(await bridgeThere());
      if (!gone) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(gone, 'the tunnel ports of a removed network are gone, and the bridge the mesh made for it');

    const notMeshed = await cli('net', 'create', 'plain', '--subnet', '10.9.0.0/24');
    assert.equal(notMeshed.code, 0, notMeshed.stderr);
    const nm = await cli('mesh', 'add', 'h1', '--net', 'plain');
    assert.equal(nm.code, 2);
    assert.match(nm.stderr, /network plain has no mesh/);
  },
);

test('host add --join N: a host registered with --join gets its tunnels, each member exactly one', async () => {
  assert.equal(
    (
      await cli(
        'net',
        'create',
        'teal',
        '--subnet',
        '10.4.4.0/24',
        '--kind',
        'ovs',
        '--bridge',
        'ovs-teal',
        '--mesh',
        'gre',
      )
    ).code,
    0,
  );
  assert.equal((await cli('mesh', 'add', 'h1', '--net', 'teal')).code, 0);
  const bluePortsBefore = (
    await runner.run('ovs-vsctl', [`--db=${lab.hosts[0]!.ovsDb}`, 'list-ports', 'ovs-blue'])
  ).stdout
    .split('\n')
    .filter((p) => p && !p.startsWith('fn'));
  assert.equal(bluePortsBefore.length, 1, `before: h1 has one blue tunnel, to h2 (${bluePortsBefore.join(' ')})`);
  const rm = await cli('host', 'rm', 'h2', '--force');
  assert.equal(rm.code, 0, rm.stderr);
  // h2 left every mesh: h1's tunnel to it on blue (still meshed with h1 and h2) goes at once.
  // (Tunnel ports only: the container attached on h1 keeps its own fn… port.)
  const bluePorts = async () =>
    (await runner.run('ovs-vsctl', [`--db=${lab.hosts[0]!.ovsDb}`, 'list-ports', 'ovs-blue'])).stdout
      .split('\n')
      .filter((p) => p && !p.startsWith('fn'))
      .join(' ');
  let left = false;
  for (let i = 0; i < 50 && !left; i++) {
    left = (await bluePorts()) === '';
    if (!left) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(left, `h1's blue tunnel to the removed h2 is gone (ports: ${await bluePorts()})`);
  const r = await cli('host', 'add', 'h2', '--addr', lab.hosts[1]!.listen, '--join', 'teal', '--json');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as {
    host: { name: string };
    joined: { hosts: { host: string; added: number; removed: number }[] }[];
  };
  assert.equal(j.host.name, 'h2');
  // Each member gets exactly one tunnel: the other one.
  const rows = j.joined[0]!.hosts.map((h) => [h.host, h.added]).sort();
  assert.deepEqual(rows, [
    ['h1', 1],
    ['h2', 1],
  ]);
  // h2's agent still held its blue tunnel from before its removal (nobody tells a removed host). The
  // registration's own push may drop it before the join's push does, so judge the end state: h2 has
  // no blue tunnel left (nor the blue bridge, which its mesh made and nothing else uses) and exactly one teal tunnel.
  const tunnels = async (host: number, bridge: string) =>
    (
      await runner.run('ovs-vsctl', [`--db=${lab.hosts[host]!.ovsDb}`, 'list-ports', bridge], { allowFail: true })
    ).stdout
      .split('\n')
      .filter((p) => p && !p.startsWith('fn'));
  assert.deepEqual(await tunnels(1, 'ovs-blue'), [], "h2's stale blue tunnel is gone");
  assert.equal((await tunnels(1, 'ovs-teal')).length, 1, 'h2 has one teal tunnel, to h1');
  assert.equal((await tunnels(0, 'ovs-teal')).length, 1, 'h1 has one teal tunnel, to h2');
  const bad = await cli('host', 'add', 'h9', '--addr', '10.99.0.99', '--join', 'nosuchnet');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /no network named nosuchnet/);
  assert.doesNotMatch((await cli('hosts')).stdout, /h9/, 'nothing registered');
});
