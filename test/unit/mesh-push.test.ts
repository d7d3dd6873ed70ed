// The controller's mesh pushes with agents in memory: per host one push in flight and one waiting
// (N quick changes cost two pushes and the last carries them all), and `fleetnet mesh add/rm` with
// several hosts: one store change, each member pushed once (the joining hosts first, the members once they
// answered); an unknown host changes nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../common/logger.js';
import { addHost } from '../../controller/fleet/hosts.js';
import { createNetwork } from '../../controller/fleet/networks.js';
import { meshAdd } from '../../controller/mesh/fleet-mesh.js';
import { MeshPusher, type MeshLinkFactory } from '../../controller/mesh/push.js';
import { planHosts } from '../../common/mesh/plan.js';
import type { MeshReply, MeshSpec } from '../../proto/gen/fleetnet/v1/agent.js';
import { controllerWithCli } from '../helpers/controller-cli.js';
import { tempStore } from '../helpers/controller-store.js';

/** Agents' mesh side in memory: every spec each host got; `hold` keeps each ApplyMesh waiting until released. */
function meshAgents() {
  const got = new Map<string, MeshSpec[]>();
  const waiting: (() => void)[] = [];
  const state = { hold: false };
  const ports = (s: MeshSpec | undefined) => new Set(s?.networks.flatMap((n) => n.tunnels.map((t) => t.port)) ?? []);
  const links: MeshLinkFactory = (_addr, host) => ({
    applyMesh: async (spec: MeshSpec): Promise<MeshReply> => {
      const list = got.get(host) ?? [];
      got.set(host, [...list, spec]);
      if (state.hold) await new Promise<void>((r) => waiting.push(r));
      const [before, after] = [ports(list.at(-1)), ports(spec)];
      const added = [...after].filter((p) => !before.has(p)).length;
      const removed = [...before].filter((p) => !after.has(p)).length;
      return { generation: spec.generation, added, removed, kept: after.size - added, changes: 0, errors: [] };
    },
    meshStatus: async () => ({ generation: 0, tunnels: [] }),
    close: () => undefined,
  });
  const peers = (host: string) =>
    got
      .get(host)
      ?.at(-1)
      ?.networks.flatMap((n) => n.tunnels.map((t) => t.peer))
      .sort() ?? [];
  return { links, got, waiting, state, peers, count: (host: string) => got.get(host)?.length ?? 0 };
}

/** A store with hosts h<i> (agents at 10.99.0.<10+i>) and the OVS network blue, meshed on h1 and h2. */
async function blueStore(t: Parameters<typeof tempStore>[0], hosts: number[]) {
  const { store } = tempStore(t);
  await store.transact((tx) => {
    for (const i of hosts) addHost(tx, { name: `h${i}`, agentAddr: `10.99.0.${10 + i}:7441` }, 1);
    createNetwork(
      tx,
      { name: 'blue', subnets: ['10.1.1.0/24'], kind: 'ovs', bridge: 'ovs-blue', mesh: { encap: 'gre', key: 0 } },
      1,
    );
    meshAdd(tx, 'blue', ['h1', 'h2']);
  });
  return store;
}

const until = async (ok: () => boolean) => {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(ok());
};

test('pushes to a host coalesce: one in flight, one waiting that carries every change (no lost update)', async (t) => {
  const store = await blueStore(t, [1, 2, 3, 4, 5, 6]);
  const agents = meshAgents();
  const pusher = new MeshPusher({ store, log: silentLogger(), links: agents.links, resyncMs: 3_600_000 });
  t.after(() => pusher.stop());
  agents.state.hold = true;
  const first = pusher.push(['h1']);
  await until(() => agents.count('h1') === 1);
  // Three changes while h1's first push is held at its agent: each asks for a push of h1.
  const later: Promise<{ generation: number }[]>[] = [];
  for (const h of ['h3', 'h4', 'h5']) {
    await store.transact((tx) => meshAdd(tx, 'blue', h));
    later.push(pusher.push(['h1']));
  }
  agents.state.hold = false;
  agents.waiting.splice(0).forEach((go) => go());
  const [g1] = (await first).map((s) => s.generation);
  const gs = (await Promise.all(later)).map(([s]) => s!.generation);
  assert.equal(agents.count('h1'), 2, 'the three asks made one push');
  assert.deepEqual(agents.peers('h1'), ['h2', 'h3', 'h4', 'h5'], 'that push carries all three changes');
  assert.deepEqual(new Set(gs).size, 1);
  assert.ok(gs[0]! > g1!);

  // A change made while the waiting push is already running gets a push of its own after it.
  agents.state.hold = true;
  const running = pusher.push(['h1']);
  await until(() => agents.count('h1') === 3);
  await store.transact((tx) => meshAdd(tx, 'blue', 'h6'));
  const after = pusher.push(['h1']);
  agents.state.hold = false;
  agents.waiting.splice(0).forEach((go) => go());
  await running;
  const [last] = await after;
  assert.equal(agents.count('h1'), 4);
  assert.deepEqual(agents.peers('h1'), ['h2', 'h3', 'h4', 'h5', 'h6']);
  assert.equal(last!.error, '');
});

test(
  'fleetnet mesh add h1 h2 h3 --net N: one change, each member pushed once; ' + 'unknown host: exit 2, nothing changed',
  async (t) => {
    const agents = meshAgents();
    // No periodic push during the test: every push counted is one a command asked for.
    const { cli } = await controllerWithCli(t, undefined, { resyncMs: 3_600_000 }, agents.links);
    for (const i of [1, 2, 3, 4])
      assert.equal((await cli('host', 'add', `h${i}`, '--addr', `10.99.0.${10 + i}`)).code, 0);
    const net = ['--subnet', '10.1.1.0/24', '--kind', 'ovs', '--bridge', 'ovs-blue', '--mesh', 'gre'];
    assert.equal((await cli('net', 'create', 'blue', ...net)).code, 0);

    const add = await cli('mesh', 'add', 'h1', 'h2', 'h3', '--net', 'blue', '--json');
    assert.equal(add.code, 0, add.err);
    const res = JSON.parse(add.out) as {
      changed: boolean;
      network: { meshHosts: string[] };
      hosts: { host: string; added: number; removed: number; error: string }[];
    };
    assert.equal(res.changed, true);
    assert.deepEqual(res.network.meshHosts, ['h1', 'h2', 'h3']);
    assert.deepEqual(
      res.hosts.map((h) => [h.host, h.added, h.removed, h.error]),
      [
        ['h1', 2, 0, ''],
        ['h2', 2, 0, ''],
        ['h3', 2, 0, ''],
      ],
    );
    assert.deepEqual(['h1', 'h2', 'h3', 'h4'].map(agents.count), [1, 1, 1, 0]);

    // One unknown host refuses the whole command: h4 does not join, nobody is pushed.
    const bad = await cli('mesh', 'add', 'h4', 'h9', 'h8', '--net', 'blue');
    assert.equal(bad.code, 2, bad.err);
    assert.match(bad.err, /no host named h9, h8/);
    const nets = JSON.parse((await cli('nets', '--json')).out) as { name: string; meshHosts: string[] }[];
    assert.deepEqual(nets.find((n) => n.name === 'blue')?.meshHosts, ['h1', 'h2', 'h3']);
    assert.deepEqual(['h1', 'h2', 'h3', 'h4'].map(agents.count), [1, 1, 1, 0]);

    const none = await cli('mesh', 'add', '--net', 'blue');
    assert.equal(none.code, 2);
    assert.match(none.err, /missing required argument 'host'/);

    const again = await cli('mesh', 'add', 'h2', 'h3', '--net', 'blue');
    assert.equal(again.code, 0, again.err);
    assert.match(again.out, /nothing to do: h2 h3 are already in the mesh of blue/);

    // The 4th host: each existing member one port, the newcomer three.
    const join = JSON.parse((await cli('mesh', 'add', 'h4', '--net', 'blue', '--json')).out) as typeof res;
    assert.deepEqual(
      join.hosts.map((h) => [h.host, h.added]),
      [
        ['h1', 1],
        ['h2', 1],
        ['h3', 1],
        ['h4', 3],
      ],
    );

    const rm = await cli('mesh', 'rm', 'h2', 'h3', '--net', 'blue');
    assert.equal(rm.code, 0, rm.err);
    assert.match(rm.out, /^h2 h3 left the mesh of blue \(gre key 100\); members: h1 h4$/m);
    assert.deepEqual(agents.peers('h1'), ['h4']);
    assert.deepEqual(agents.peers('h3'), []);
  },
);

test('mesh add pushes the joining hosts first; the reply lists the members in order', async (t) => {
  const agents = meshAgents();
  const order: string[] = [];
  const links: MeshLinkFactory = (addr, host) => {
    const l = agents.links(addr, host);
    return { ...l, applyMesh: (spec, ...rest) => (order.push(host), l.applyMesh(spec, ...rest)) };
  };
  const { cli } = await controllerWithCli(t, undefined, { resyncMs: 3_600_000 }, links);
  for (const i of [1, 2, 3, 4, 5])
    assert.equal((await cli('host', 'add', `h${i}`, '--addr', `10.99.0.${10 + i}`)).code, 0);
  const net = ['--subnet', '10.1.1.0/24', '--kind', 'ovs', '--bridge', 'ovs-blue', '--mesh', 'gre'];
  assert.equal((await cli('net', 'create', 'blue', ...net)).code, 0);
  assert.equal((await cli('mesh', 'add', 'h2', 'h3', 'h5', '--net', 'blue')).code, 0);
  order.length = 0;
  const join = await cli('mesh', 'add', 'h4', 'h1', '--net', 'blue', '--json');
  assert.equal(join.code, 0, join.err);
  assert.deepEqual(order, ['h1', 'h4', 'h2', 'h3', 'h5']);
  const res = JSON.parse(join.out) as { hosts: { host: string; added: number }[] };
  assert.deepEqual(
    res.hosts.map((h) => `${h.host}+${h.added}`),
    ['h1+4', 'h2+2', 'h3+2', 'h4+4', 'h5+2'],
  );
});

test('mesh add: the members are pushed once the joining host answered, or when it is late, without it', async (t) => {
  const agents = meshAgents();
  const started: string[] = [];
  const held = new Map<string, () => void>();
  const hold = new Set<string>();
  const links: MeshLinkFactory = (addr, host) => {
    const l = agents.links(addr, host);
    return {
      ...l,
      applyMesh: async (spec, ...rest) => {
        started.push(host);
        if (hold.has(host)) await new Promise<void>((r) => held.set(host, r));
        return l.applyMesh(spec, ...rest);
      },
    };
  };
  const { cli } = await controllerWithCli(t, undefined, { resyncMs: 3_600_000 }, links);
  for (const i of [1, 2, 5, 6])
    assert.equal((await cli('host', 'add', `h${i}`, '--addr', `10.99.0.${10 + i}`)).code, 0);
  const net = ['--subnet', '10.1.1.0/24', '--kind', 'ovs', '--bridge', 'ovs-blue', '--mesh', 'gre'];
  assert.equal((await cli('net', 'create', 'blue', ...net)).code, 0);
  assert.equal((await cli('mesh', 'add', 'h1', 'h2', '--net', 'blue')).code, 0);
  // h5 joins: while its agent works, h1 and h2 are not pushed; once it answers, they are.
  started.length = 0;
  hold.add('h5');
  const join = cli('mesh', 'add', 'h5', '--net', 'blue');
  await until(() => held.has('h5'));
  await new Promise((r) => setTimeout(r, 300));
  assert.deepEqual(started, ['h5'], 'the members wait for the joining host');
  hold.delete('h5');
  held.get('h5')!();
  assert.equal((await join).code, 0);
  assert.deepEqual(started.slice(1).sort(), ['h1', 'h2']);
  assert.deepEqual(
    [agents.peers('h1'), agents.peers('h5')],
    [
      ['h2', 'h5'],
      ['h1', 'h2'],
    ],
  );
  // h6 joins and its agent does not answer: the members are pushed anyway, after JOINING_FIRST_MS.
  started.length = 0;
  hold.add('h6');
  const join6 = cli('mesh', 'add', 'h6', '--net', 'blue');
  await until(() => held.has('h6'));
  for (let i = 0; i < 200 && started.length < 4; i++) await new Promise((r) => setTimeout(r, 25));
  assert.deepEqual(started.slice(1).sort(), ['h1', 'h2', 'h5'], 'pushed while h6 still had not answered');
  assert.deepEqual(agents.peers('h1'), ['h2', 'h5', 'h6']);
  held.get('h6')!();
  assert.equal((await join6).code, 0);
});

test('mesh add --wait: each member is asked for its tunnels once its own push is answered, not the last', async (t) => {
  const agents = meshAgents();
  const log: string[] = [];
  const held: (() => void)[] = [];
  let hold = false;
  const links: MeshLinkFactory = (addr, host) => {
    const l = agents.links(addr, host);
    return {
      ...l,
      applyMesh: async (spec, ...rest) => {
        // h2's push is held until h5 (the newcomer) has been asked for its tunnels.
        if (host === 'h2' && hold) await new Promise<void>((r) => held.push(r));
        return l.applyMesh(spec, ...rest);
      },
      meshStatus: async (_timeoutMs, _signal, q) => {
        log.push(`${host} ${q?.network} ${q?.waitUpMs}`);
        if (host === 'h5') {
          hold = false;
          held.splice(0).forEach((r) => r());
        }
        const peers = agents.got
          .get(host)!
          .at(-1)!
          .networks.flatMap((n) => n.tunnels.map((x) => x.peer));
        const row = { network: 'blue', peerIp: '', port: '', kind: 'ovs', encap: 'gre', detail: '', checkedAtMs: 0 };
        return { generation: 0, tunnels: peers.map((peer) => ({ ...row, peer, state: 'up' })) };
      },
    };
  };
  const { cli } = await controllerWithCli(t, undefined, { resyncMs: 3_600_000 }, links);
  for (const i of [1, 2, 5]) assert.equal((await cli('host', 'add', `h${i}`, '--addr', `10.99.0.${10 + i}`)).code, 0);
  const net = ['--subnet', '10.1.1.0/24', '--kind', 'ovs', '--bridge', 'ovs-blue', '--mesh', 'gre'];
  assert.equal((await cli('net', 'create', 'blue', ...net)).code, 0);
  assert.equal((await cli('mesh', 'add', 'h1', 'h2', '--net', 'blue')).code, 0);
  hold = true;
  const join = await cli('mesh', 'add', 'h5', '--net', 'blue', '--wait', '30', '--json');
  assert.equal(join.code, 0, join.err);
  // h5 was asked while h2's push was still held (h2 was asked only after it was let go).
  assert.equal(log[0], 'h5 blue 30000');
  assert.deepEqual(log.slice(1).sort(), ['h1 blue 30000', 'h2 blue 30000']);
  const res = JSON.parse(join.out) as { tunnels: { host: string; peer: string; state: string }[] };
  assert.deepEqual(
    res.tunnels.map((x) => `${x.host}>${x.peer} ${x.state}`),
    ['h1>h2 up', 'h1>h5 up', 'h2>h1 up', 'h2>h5 up', 'h5>h1 up', 'h5>h2 up'],
  );
  // Without --wait nobody is asked, and the JSON has no tunnels.
  log.length = 0;
  const plain = await cli('mesh', 'rm', 'h1', '--net', 'blue', '--json');
  assert.equal(plain.code, 0, plain.err);
  assert.deepEqual([log, 'tunnels' in JSON.parse(plain.out)], [[], false]);
});

test('the periodic push skips an acknowledged plan, sends a changed one, re-sends after 10 periods', async (t) => {
  const store = await blueStore(t, [1, 2, 3]);
  // Rounds are counted by the pusher's store reads (one per round, one per host it plans).
  let reads = 0;
  const read = store.read.bind(store);
  store.read = ((fn: Parameters<typeof read>[0]) => (reads++, read(fn))) as typeof store.read;
  let nowMs = 1_000_000;
  const agents = meshAgents();
  const pusher = new MeshPusher({ store, log: silentLogger(), links: agents.links, resyncMs: 20, now: () => nowMs });
  t.after(() => pusher.stop());
  const rounds = async (n: number) => {
    const from = reads;
    await until(() => reads >= from + 3 * n);
  };
  await pusher.start();
  await until(() => agents.count('h1') === 1 && agents.count('h2') === 1);
  await rounds(5);
  assert.deepEqual([agents.count('h1'), agents.count('h2')], [1, 1], 'unchanged and acknowledged: not sent again');
  // Asked for (a mesh command): sent even though unchanged.
  await pusher.push(['h1']);
  assert.equal(agents.count('h1'), 2);
  // Changed in the store behind the pusher's back: the next period sends it.
  await store.transact((tx) => meshAdd(tx, 'blue', 'h3'));
  await until(() => agents.count('h3') === 1 && agents.count('h2') === 2);
  assert.deepEqual(agents.peers('h2'), ['h1', 'h3']);
  // Ten periods later an unchanged plan goes again (an agent that lost its state gets it back).
  const before = agents.count('h2');
  nowMs += 10 * 20;
  await until(() => agents.count('h2') === before + 1);
});

test('a host held for a join is left out of the periodic push until released', async (t) => {
  const store = await blueStore(t, [1, 2]);
  const agents = meshAgents();
  const pusher = new MeshPusher({ store, log: silentLogger(), links: agents.links, resyncMs: 20 });
  t.after(() => pusher.stop());
  const release = pusher.hold(['h1']);
  await pusher.start();
  await until(() => agents.count('h2') === 1);
  await new Promise((r) => setTimeout(r, 100)); // five periods
  assert.equal(agents.count('h1'), 0, 'held: not pushed');
  release();
  release(); // a second call changes nothing
  await until(() => agents.count('h1') === 1);
});

test('pushes starting together share one store read, each host its own plan; a later one reads again', async (t) => {
  const store = await blueStore(t, [1, 2, 3, 4, 5, 6, 7]);
  await store.transact((tx) => meshAdd(tx, 'blue', ['h3', 'h4', 'h5', 'h6']));
  let reads = 0;
  const read = store.read.bind(store);
  store.read = ((fn: Parameters<typeof read>[0]) => (reads++, read(fn))) as typeof store.read;
  const agents = meshAgents();
  const pusher = new MeshPusher({ store, log: silentLogger(), links: agents.links, resyncMs: 3_600_000 });
  t.after(() => pusher.stop());
  const all = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6'];
  const states = await pusher.push(all);
  assert.deepEqual([reads, states.map((s) => s.error)], [1, ['', '', '', '', '', '']]);
  for (const h of all)
    assert.deepEqual(
      agents.peers(h),
      all.filter((x) => x !== h),
    );
  // A change, then a push: read afresh, so the plan carries the change.
  await store.transact((tx) => meshAdd(tx, 'blue', 'h7'));
  await pusher.push(['h1']);
  assert.equal(reads, 2);
  assert.deepEqual(agents.peers('h1'), ['h2', 'h3', 'h4', 'h5', 'h6', 'h7']);
});

test('hosts and meshes unchanged in the store: a push re-uses the plans made; a change plans again', async (t) => {
  const store = await blueStore(t, [1, 2, 3]);
  const planned: string[][] = [];
  const counting: typeof planHosts = (names, hosts, nets) => (planned.push([...names]), planHosts(names, hosts, nets));
  const agents = meshAgents();
  const o = { store, log: silentLogger(), links: agents.links, resyncMs: 3_600_000, planHosts: counting };
  const pusher = new MeshPusher(o);
  t.after(() => pusher.stop());
  await pusher.push(['h1', 'h2']);
  await pusher.push(['h1', 'h2']); // asked again (sent again), nothing changed: planned once
  assert.deepEqual(planned, [['h1', 'h2']]);
  assert.deepEqual([agents.count('h1'), agents.peers('h1'), agents.peers('h2')], [2, ['h2'], ['h1']]);
  await pusher.push(['h3']); // a host not planned yet: only it
  assert.deepEqual(planned.at(-1), ['h3']);
  await store.transact((tx) => meshAdd(tx, 'blue', 'h3'));
  await pusher.push(['h1', 'h2', 'h3']);
  assert.deepEqual(planned.at(-1), ['h1', 'h2', 'h3'], 'the store changed: every host planned again');
  assert.deepEqual(
    [agents.peers('h1'), agents.peers('h3')],
    [
      ['h2', 'h3'],
      ['h1', 'h2'],
    ],
  );
});
