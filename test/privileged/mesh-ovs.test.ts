// The mesh on real namespaces: hosts with user-space OVS (br-phy underlay), agents' Meshers
// converging to the controller's plan, "containers" in their own namespaces.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { planMesh, type MeshNetwork } from '../../controller/mesh/plan.js';
import type { MeshResult } from '../../agent/mesh/mesher.js';
import { isMeshWrite, MeshFleet, type SimContainer } from '../helpers/mesh-fleet.js';
import { sh, uniquePrefix } from '../helpers/netns.js';

let fleet: MeshFleet;
let generation = 0;
const nets: MeshNetwork[] = [
  { name: 'blue', kind: 'ovs', encap: 'gre', key: 100, bridge: 'ovs-blue', members: ['h1', 'h2'] },
  // Same subnet as blue, other key: must not see blue.
  { name: 'red', kind: 'ovs', encap: 'gre', key: 101, bridge: 'ovs-red', members: ['h1', 'h2'] },
  { name: 'violet', kind: 'ovs', encap: 'vxlan', key: 5000, bridge: 'ovs-vio', members: ['h1', 'h2'] },
];

/** What the controller does: plan, then hand each host its part with a new generation. */
async function applyAll(): Promise<Map<string, MeshResult>> {
  generation++;
  const hosts = fleet.hosts.map((h) => ({ name: h.name, underlayIp: h.underlayIp }));
  const out = new Map<string, MeshResult>();
  for (const p of planMesh(hosts, nets)) {
    const h = fleet.host(p.host);
    const res = await h.mesher.apply({ generation, networks: p.networks.map((n) => ({ ...n, datapathType: 'netdev' })) });
    assert.deepEqual(res.errors, [], `${p.host}: ${JSON.stringify(res.errors)}`);
    out.set(p.host, res);
  }
  return out;
}

const c: Record<string, SimContainer> = {};

describe('mesh over user-space OVS', () => {
  before(async () => {
    fleet = await MeshFleet.create(uniquePrefix('m'), 3);
    await applyAll();
    c.b1 = await fleet.container('h1', 'ovs', 'ovs-blue', '10.1.1.1/24', 1458);
    c.b2 = await fleet.container('h2', 'ovs', 'ovs-blue', '10.1.1.2/24', 1458);
    c.r1 = await fleet.container('h1', 'ovs', 'ovs-red', '10.1.1.3/24', 1458);
    c.r2 = await fleet.container('h2', 'ovs', 'ovs-red', '10.1.1.4/24', 1458);
    c.v1 = await fleet.container('h1', 'ovs', 'ovs-vio', '10.3.3.1/24', 1450);
    c.v2 = await fleet.container('h2', 'ovs', 'ovs-vio', '10.3.3.2/24', 1450);
  });
  after(async () => {
    await fleet?.destroy();
  });

  it('containers on two hosts ping over OVS GRE and over OVS VXLAN', async () => {
    assert.ok(await fleet.pingEventually(c.b1!, '10.1.1.2'), 'blue (GRE) h1 -> h2');
    assert.ok(await fleet.pingEventually(c.v1!, '10.3.3.2'), 'violet (VXLAN) h1 -> h2');
    assert.ok(await fleet.pingEventually(c.r2!, '10.1.1.3'), 'red (GRE) h2 -> h1');
  });

  it('two networks with the same subnet and different keys do not see each other', async () => {
    assert.ok((await fleet.ping(c.b1!, '10.1.1.2')).ok);
    assert.ok((await fleet.ping(c.r1!, '10.1.1.4')).ok);
    assert.equal((await fleet.ping(c.b1!, '10.1.1.4')).ok, false, 'blue reached red');
    assert.equal((await fleet.ping(c.r1!, '10.1.1.2')).ok, false, 'red reached blue');
  });

  it('DF ping of MTU-28 passes and one byte more fails (GRE 42, VXLAN 50 bytes of overhead)', async () => {
    assert.ok((await fleet.ping(c.b1!, '10.1.1.2', { df: true, size: 1458 - 28 })).ok, 'GRE 1430');
    assert.equal((await fleet.ping(c.b1!, '10.1.1.2', { df: true, size: 1458 - 27 })).ok, false, 'GRE 1431');
    assert.ok((await fleet.ping(c.v1!, '10.3.3.2', { df: true, size: 1450 - 28 })).ok, 'VXLAN 1422');
    assert.equal((await fleet.ping(c.v1!, '10.3.3.2', { df: true, size: 1450 - 27 })).ok, false, 'VXLAN 1423');
    // The datapath itself agrees: with both containers' MTU raised to the underlay's, one byte more than planned is still dropped.
    for (const [x, y, mtu] of [[c.b1!, c.b2!, 1458], [c.v1!, c.v2!, 1450]] as const) {
      for (const n of [x, y]) await sh.run('ip', ['-n', n.netns, 'link', 'set', 'eth1', 'mtu', '1500']);
      try {
        assert.equal((await fleet.ping(x, y.ip, { df: true, size: mtu - 27 })).ok, false, `${mtu - 27} bytes went through the tunnel`);
        assert.ok((await fleet.ping(x, y.ip, { df: true, size: mtu - 28 })).ok);
      } finally {
        for (const n of [x, y]) await sh.run('ip', ['-n', n.netns, 'link', 'set', 'eth1', 'mtu', String(mtu)]);
      }
    }
  });
});
