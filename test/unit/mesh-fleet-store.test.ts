// The controller's mesh decisions in a real store: keys picked and refused, members added and
// removed, the plan's input read from the store, the container MTU a meshed network implies.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { FleetnetError } from '../../common/errors.js';
import { addHost, leaveMeshes, removeHost } from '../../controller/fleet/hosts.js';
import { createNetwork } from '../../controller/fleet/networks.js';
import { meshAdd, meshMtu, meshRemove, planInputFromTx } from '../../controller/mesh/fleet-mesh.js';
import { planMesh } from '../../common/mesh/plan.js';
import { SqliteStore } from '../../controller/store/sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'fleetnet-meshstore-'));
const store = new SqliteStore({ path: join(dir, 'state.db') });
after(() => {
  store.close();
  rmSync(dir, { recursive: true, force: true });
});

test('mesh keys, members and the plan from the store', async () => {
  await store.transact((tx) => {
    for (const i of [1, 2, 3]) addHost(tx, { name: `h${i}`, agentAddr: `10.99.0.${10 + i}:7441` }, 1);
  });
  const mk = (name: string, mesh?: { encap: string; key: number }, kind = 'ovs') =>
    store.transact(
      (tx) =>
        createNetwork(tx, { name, subnets: ['10.1.1.0/24'], kind, bridge: `ovs-${name}`, ...(mesh ? { mesh } : {}) }, 1)
          .network,
    );
  assert.equal((await mk('blue', { encap: 'gre', key: 0 })).mesh?.key, 100);
  assert.equal((await mk('red', { encap: 'gre', key: 0 })).mesh?.key, 101);
  assert.equal((await mk('vio', { encap: 'vxlan', key: 0 })).mesh?.key, 100); // keys are per encapsulation
  await assert.rejects(
    mk('dup', { encap: 'gre', key: 101 }),
    (e: unknown) => e instanceof FleetnetError && /gre key 101 is already used by network red/.test(e.message),
  );
  await assert.rejects(
    store.transact((tx) =>
      createNetwork(
        tx,
        { name: 'mv', subnets: ['10.5.0.0/24'], kind: 'macvlan', parent: 'eth1', mesh: { encap: 'gre', key: 0 } },
        1,
      ),
    ),
    /a macvlan network cannot be meshed/,
  );
  assert.equal((await mk('blue', { encap: 'gre', key: 0 })).mesh?.key, 100); // the same create again: same key

  const add = (h: string, net = 'blue') => store.transact((tx) => meshAdd(tx, net, h));
  assert.deepEqual((await add('h1')).hosts, ['h1']);
  assert.deepEqual((await add('h2')).hosts, ['h1', 'h2']);
  assert.equal((await add('h2')).changed, false);
  await assert.rejects(add('h9'), /no host named h9/);
  assert.equal((await mk('blue', { encap: 'gre', key: 0 })).mesh?.members.length, 2); // create again keeps members
  const input = await store.read((tx) => planInputFromTx(tx));
  assert.deepEqual(
    input.networks.find((n) => n.name === 'blue'),
    { name: 'blue', kind: 'ovs', encap: 'gre', key: 100, bridge: 'ovs-blue', members: ['h1', 'h2'] },
  );
  const [p1] = planMesh(input.hosts, input.networks);
  assert.deepEqual(
    p1!.networks.map((n) => [n.network, n.tunnels.map((t) => t.peer)]),
    [['blue', ['h2']]],
  );
  const rm = await store.transact((tx) => meshRemove(tx, 'blue', 'h1'));
  assert.deepEqual([rm.changed, rm.hosts, rm.network.mesh?.members], [true, ['h1', 'h2'], ['h2']]);
  assert.equal(meshMtu(rm.network), 1458);
  assert.equal(meshMtu((await store.read((tx) => tx.getNetwork('vio')))!), 1450);
});

test('a removed host leaves every mesh; added again, it is in none until told', async () => {
  await store.transact((tx) => {
    for (const i of [7, 8, 9]) addHost(tx, { name: `g${i}`, agentAddr: `10.99.1.${i}:7441` }, 1);
  });
  const mk = (name: string, key: number) =>
    store.transact((tx) =>
      createNetwork(
        tx,
        { name, subnets: ['10.7.0.0/24'], kind: 'ovs', bridge: `ovs-${name}`, mesh: { encap: 'vxlan', key } },
        1,
      ),
    );
  await mk('teal', 700);
  await mk('aqua', 701);
  for (const [net, h] of [
    ['teal', 'g7'],
    ['teal', 'g8'],
    ['aqua', 'g8'],
    ['aqua', 'g9'],
  ] as const)
    await store.transact((tx) => meshAdd(tx, net, h));
  const peers = await store.transact((tx) => (removeHost(tx, 'g8', false) ? leaveMeshes(tx, 'g8') : []));
  assert.deepEqual(peers, ['g7', 'g9'], 'the members whose tunnels to g8 must go');
  const members = (net: string) => store.read((tx) => tx.getNetwork(net)?.mesh?.members);
  assert.deepEqual([await members('teal'), await members('aqua')], [['g7'], ['g9']]);
  await store.transact((tx) => addHost(tx, { name: 'g8', agentAddr: '10.99.1.8:7441' }, 2));
  assert.deepEqual(
    [await members('teal'), await members('aqua')],
    [['g7'], ['g9']],
    'a host added again joins nothing by itself',
  );
  assert.deepEqual(await store.transact((tx) => leaveMeshes(tx, 'g8')), [], 'in no mesh: nothing to tell anyone');
});
