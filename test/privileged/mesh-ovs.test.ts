// The mesh on real namespaces: hosts with user-space OVS (br-phy underlay), agents' Meshers
// converging to the controller's plan, "containers" in their own namespaces.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { planMesh, type MeshNetwork } from '../../common/mesh/plan.js';
import type { MeshResult } from '../../agent/mesh/spec.js';
import { isMeshWrite, MeshFleet, type SimContainer } from '../helpers/mesh-fleet.js';
import { sh } from '../helpers/netns.js';
import { newRunId } from '../helpers/docker.js';

let fleet: MeshFleet;
let generation = 0;
const nets: MeshNetwork[] = [
  { name: 'blue', kind: 'ovs', encap: 'gre', key: 100, bridge: 'ovs-blue', members: ['h1', 'h2'] },
  // Same subnet as blue, other key: must not see blue.
  { name: 'red', kind: 'ovs', encap: 'gre', key: 101, bridge: 'ovs-red', members: ['h1', 'h2'] },
  { name: 'violet', kind: 'ovs', encap: 'vxlan', key: 5000, bridge: 'ovs-vio', members: ['h1', 'h2'] },
];

async function applyAll(): Promise<Map<string, MeshResult>> {
  const out = await fleet.applyPlan(nets, ++generation, 'netdev');
  for (const [h, res] of out) assert.deepEqual(res.errors, [], `${h}: ${JSON.stringify(res.errors)}`);
  return out;
}

const c: Record<string, SimContainer> = {};

describe('mesh over user-space OVS', () => {
  before(async () => {
    fleet = await MeshFleet.create(newRunId('m'), 3, { watchBfd: true });
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
    assert.deepEqual(await fleet?.leftovers(), []);
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
    // The datapath itself agrees: with both containers' MTU raised to the underlay's, one byte more than planned is
    // still dropped.
    for (const [x, y, mtu] of [
      [c.b1!, c.b2!, 1458],
      [c.v1!, c.v2!, 1450],
    ] as const) {
      for (const n of [x, y]) await sh.run('ip', ['-n', n.netns, 'link', 'set', 'eth1', 'mtu', '1500']);
      try {
        assert.equal(
          (await fleet.ping(x, y.ip, { df: true, size: mtu - 27 })).ok,
          false,
          `${mtu - 27} bytes went through the tunnel`,
        );
        assert.ok((await fleet.ping(x, y.ip, { df: true, size: mtu - 28 })).ok);
      } finally {
        for (const n of [x, y]) await sh.run('ip', ['-n', n.netns, 'link', 'set', 'eth1', 'mtu', String(mtu)]);
      }
    }
  });

  it(
    'a joining host changes exactly one thing on each existing host, ' + 'with no lost reply on a running ping',
    async () => {
      const running = fleet.ping(c.b1!, '10.1.1.2', { count: 30, intervalS: '0.1' });
      // h3's gratuitous ARP for its underlay address (sender and target 10.99.0.13), as h1's underlay sees it.
      const garp = 'arp and arp[6:2] = 1 and arp[14:4] = 0x0a63000d and arp[24:4] = 0x0a63000d';
      const h1Ns = fleet.host('h1').netns;
      const seen = sh.run(
        'ip',
        ['netns', 'exec', h1Ns, 'timeout', '8', 'tcpdump', '-l', '-n', '-c', '1', '-i', 'br-phy', garp],
        {
          allowFail: true,
        },
      );
      await new Promise((r) => setTimeout(r, 700)); // the capture is listening
      for (const h of fleet.hosts) h.runner.calls.length = 0;
      nets[0]!.members.push('h3');
      const res = await applyAll();
      for (const h of ['h1', 'h2']) {
        const writes = fleet.host(h).runner.calls.filter(isMeshWrite);
        assert.equal(writes.length, 1, `${h}: ${JSON.stringify(writes)}`);
        // One OVSDB transaction that ovsdb-server committed (no ovs-vsctl after it), with the port to h3.
        assert.equal(writes[0]!.cmd, 'ovsdb-client', JSON.stringify(writes));
        assert.match(writes[0]!.args.at(-1)!, /\["remote_ip","10\.99\.0\.13"\]/);
        assert.deepEqual([res.get(h)!.added.length, res.get(h)!.removed.length], [1, 0]);
      }
      // h3 itself: its bridge and one port per peer.
      assert.deepEqual(
        res.get('h3')!.added.map((t) => t.peer),
        ['h1', 'h2'],
      );
      const r = await running;
      assert.ok(r.ok && /30 received/.test(r.out), r.out);
      // The newcomer announced itself, and h1's OVS holds its MAC for the tunnel (snooped from that announcement,
      // so h1's first BFD packet to h3 needs no ARP of its own).
      assert.match((await seen).stdout, /Request who-has 10\.99\.0\.13 (\(ff:ff:ff:ff:ff:ff\) )?tell 10\.99\.0\.13,/);
      const mac = (await sh.run('ip', ['-n', fleet.host('h3').netns, '-j', 'link', 'show', 'br-phy'])).stdout;
      const neigh = await sh.run('ovs-appctl', [
        '-t',
        join(fleet.host('h1').dir, 'ovs', 'ovs-vswitchd.ctl'),
        'tnl/neigh/show',
      ]);
      assert.ok(neigh.stdout.includes(`10.99.0.13`), neigh.stdout);
      assert.ok(neigh.stdout.includes((JSON.parse(mac) as { address: string }[])[0]!.address), neigh.stdout);
      c.b3 = await fleet.container('h3', 'ovs', 'ovs-blue', '10.1.1.9/24', 1458);
      assert.ok(await fleet.pingEventually(c.b3, '10.1.1.1'));
      assert.ok(await fleet.pingEventually(c.b3, '10.1.1.2'));
    },
  );

  it(
    'status comes from the BFD watch (no ovs-vsctl per call); ' + 'a wait for up ends once every tunnel is up',
    async () => {
      const h3 = fleet.host('h3');
      const up = await h3.mesher.status({ waitUpMs: 60_000 });
      assert.deepEqual(up.map((s) => `${s.network}>${s.peer}:${s.state}`).sort(), ['blue>h1:up', 'blue>h2:up']);
      assert.ok(
        up.every((s) => /bfd state=up forwarding=true/.test(s.detail)),
        JSON.stringify(up),
      );
      const h1 = fleet.host('h1');
      h1.runner.calls.length = 0;
      const blue = await h1.mesher.status({ network: 'blue' });
      assert.deepEqual(blue.map((s) => `${s.network}>${s.peer}`).sort(), ['blue>h2', 'blue>h3']);
      assert.deepEqual(
        h1.runner.calls.filter((c) => c.cmd === 'ovs-vsctl'),
        [],
      );
    },
  );

  it('a flooded frame reaches each host once (protected ports: no tunnel-to-tunnel flooding)', async () => {
    assert.deepEqual(await fleet.arpRequestsSeen(c.b1!, [c.b2!, c.b3!], '10.1.1.200'), [1, 1]);
  });

  it('a tunnel deleted by hand comes back after the next pass; nothing else is touched', async () => {
    const h1 = fleet.host('h1');
    const t = planMesh(
      fleet.hosts.map((h) => ({ name: h.name, underlayIp: h.underlayIp })),
      nets,
    )[0]!.networks[0]!.tunnels.find((x) => x.peer === 'h2')!;
    await sh.run('ovs-vsctl', [`--db=${h1.ovsDb}`, 'del-port', 'ovs-blue', t.port]);
    assert.equal((await fleet.ping(c.b1!, '10.1.1.2')).ok, false);
    h1.runner.calls.length = 0;
    const res = await h1.mesher.reconcile();
    assert.deepEqual(
      res.added.map((x) => x.port),
      [t.port],
    );
    assert.equal(h1.runner.calls.filter(isMeshWrite).length, 1);
    assert.ok(await fleet.pingEventually(c.b1!, '10.1.1.2'));
  });

  it('a non-peer on the underlay sending VXLAN to a host reaches no container', async () => {
    // The intruder speaks violet's VNI to h1 from an address that is not a member.
    const x = await fleet.addIntruder(5000, '10.99.0.11', '10.3.3.99/24');
    assert.equal(await fleet.framesSeen(c.v1!, '10.3.3.99', () => fleet.ping(x, '10.3.3.1', { count: 2 })), '');
    // The same intruder does reach h1's underlay (so the packets were sent): a positive control.
    assert.ok((await fleet.ping(x, '10.99.0.11')).ok);
  });

  it('an underlay link down shows in status (BFD), and up again', async () => {
    const h1 = fleet.host('h1');
    const toH2 = async () => (await h1.mesher.status()).filter((s) => s.peer === 'h2');
    const waitFor = async (state: string) => {
      for (let i = 0; i < 40; i++) {
        const s = await toH2();
        if (s.length && s.every((x) => x.state === state)) return s;
        await new Promise((r) => setTimeout(r, 500));
      }
      return toH2();
    };
    const up = await waitFor('up');
    assert.deepEqual([...new Set(up.map((s) => s.state))], ['up'], JSON.stringify(up));
    assert.equal(up.length, 3); // blue, red, violet
    await sh.run('ip', ['-n', fleet.switchNs, 'link', 'set', fleet.host('h2').switchPort, 'down']);
    try {
      const down = await waitFor('down');
      assert.deepEqual([...new Set(down.map((s) => s.state))], ['down'], JSON.stringify(down));
      assert.ok(down.every((s) => s.checkedAtMs > Date.now() - 60_000 && /bfd state=down/.test(s.detail)));
      assert.ok((await h1.mesher.status()).filter((s) => s.peer === 'h3').every((s) => s.state !== 'down'));
      // A wait for up that runs out answers with the states as they are.
      const late = await h1.mesher.status({ network: 'blue', waitUpMs: 1500 });
      assert.deepEqual(late.map((s) => `${s.peer}:${s.state}`).sort(), ['h2:down', 'h3:up']);
    } finally {
      await sh.run('ip', ['-n', fleet.switchNs, 'link', 'set', fleet.host('h2').switchPort, 'up']);
    }
    const back = await h1.mesher.status({ waitUpMs: 60_000 });
    assert.deepEqual([...new Set(back.map((s) => s.state))], ['up'], JSON.stringify(back));
    assert.deepEqual([...new Set((await waitFor('up')).map((s) => s.state))], ['up']);
  });

  it('mesh rm: a host leaving removes exactly its tunnel everywhere', async () => {
    for (const h of fleet.hosts) h.runner.calls.length = 0;
    nets[0]!.members = ['h1', 'h2'];
    const res = await applyAll();
    for (const h of ['h1', 'h2']) {
      assert.deepEqual(
        res.get(h)!.removed.map((t) => t.peer),
        ['h3'],
      );
      assert.equal(fleet.host(h).runner.calls.filter(isMeshWrite).length, 1);
    }
    assert.equal(res.get('h3')!.removed.length, 2);
    assert.equal((await fleet.ping(c.b3!, '10.1.1.1')).ok, false);
    assert.ok((await fleet.ping(c.b1!, '10.1.1.2')).ok);
  });
});
