import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FleetnetError } from '../../common/errors.js';
import { ENCAP_OVERHEAD, bridgeTunnelDeviceName, ovsTunnelPortName, tunnelMtu } from '../../common/mesh.js';
import { diffTunnels, planForHost, planMesh, type MeshHost, type MeshNetwork } from '../../common/mesh/plan.js';
import { blueNet } from './mesh-agent-fixture.js';

const hosts = (n: number): MeshHost[] =>
  Array.from({ length: n }, (_, i) => ({ name: `h${i + 1}`, underlayIp: `10.99.0.${11 + i}` }));
const net = blueNet;

describe('mesh plan', () => {
  it('gives every member one tunnel per peer, nothing to non-members', () => {
    const plans = planMesh(hosts(4), [net()]);
    assert.deepEqual(
      plans.map((p) => p.host),
      ['h1', 'h2', 'h3', 'h4'],
    );
    for (const p of plans.slice(0, 3)) {
      const [n] = p.networks;
      assert.equal(n!.tunnels.length, 2);
      assert.ok(n!.tunnels.every((t) => t.peer !== p.host && t.localIp === `10.99.0.${10 + Number(p.host.slice(1))}`));
    }
    assert.deepEqual(plans[3]!.networks, []);
    const t = plans[0]!.networks[0]!.tunnels[0]!;
    assert.deepEqual(t, {
      network: 'blue',
      kind: 'ovs',
      encap: 'gre',
      key: 100,
      bridge: 'ovs-blue',
      port: ovsTunnelPortName('blue', 'h2', 'gre'),
      peer: 'h2',
      peerIp: '10.99.0.12',
      localIp: '10.99.0.11',
    });
  });

  it('is deterministic whatever the input order', () => {
    const a = planMesh(hosts(3), [net(), net({ name: 'red', key: 7, members: ['h3', 'h1'] })]);
    const b = planMesh(hosts(3).reverse(), [
      net({ name: 'red', key: 7, members: ['h1', 'h3'] }),
      net({ members: ['h3', 'h2', 'h1'] }),
    ]);
    assert.deepEqual(a, b);
  });

  it('a joining host adds exactly one tunnel on each existing member and changes nothing else', () => {
    for (const kind of ['ovs', 'bridge'] as const) {
      for (let n = 2; n <= 8; n++) {
        const before = planMesh(hosts(n), [net({ kind, members: hosts(n - 1).map((h) => h.name) })]);
        const after = planMesh(hosts(n), [net({ kind, members: hosts(n).map((h) => h.name) })]);
        for (let i = 0; i < n - 1; i++) {
          const d = diffTunnels(after[i]!.networks[0]!.tunnels, before[i]!.networks[0]!.tunnels);
          assert.equal(d.add.length, 1, `${kind} n=${n} host ${i}`);
          assert.equal(d.add[0]!.peer, `h${n}`);
          assert.equal(d.remove.length, 0);
          assert.equal(d.keep.length, n - 2);
        }
        assert.equal(after[n - 1]!.networks[0]!.tunnels.length, n - 1);
      }
    }
  });

  it('Linux-bridge networks use one device per network and one flood entry per peer', () => {
    const [p] = planMesh(hosts(3), [net({ kind: 'bridge', encap: 'vxlan', bridge: 'br-blue' })]);
    const ts = p!.networks[0]!.tunnels;
    assert.equal(new Set(ts.map((t) => t.port)).size, 1);
    assert.equal(ts[0]!.port, bridgeTunnelDeviceName('blue', 'vxlan', 'h2'));
    const [g] = planMesh(hosts(3), [net({ kind: 'bridge', encap: 'gre', bridge: 'br-blue' })]);
    assert.deepEqual(
      g!.networks[0]!.tunnels.map((t) => t.port),
      [bridgeTunnelDeviceName('blue', 'gre', 'h2'), bridgeTunnelDeviceName('blue', 'gre', 'h3')],
    );
    assert.match(g!.networks[0]!.tunnels[0]!.port, /^gt[0-9a-f]{12}$/);
    assert.deepEqual(
      ts.map((t) => t.peerIp),
      ['10.99.0.12', '10.99.0.13'],
    );
    assert.equal(ts[0]!.dstPort, 4789);
  });

  it('MTU is the smallest member underlay MTU minus the overhead', () => {
    const hs = hosts(3);
    hs[2]!.underlayMtu = 9000;
    hs[1]!.underlayMtu = 1400;
    const [p] = planMesh(hs, [net({ encap: 'vxlan' })]);
    assert.equal(p!.networks[0]!.mtu, 1350);
    assert.equal(tunnelMtu(1500, 'gre'), 1458);
    assert.equal(tunnelMtu(1500, 'vxlan'), 1450);
    assert.deepEqual(ENCAP_OVERHEAD, { gre: 42, vxlan: 50 });
    assert.throws(() => tunnelMtu(600, 'vxlan'), FleetnetError);
  });

  it('names fit 15 bytes, differ per (network, peer) and per encapsulation', () => {
    const names = new Set<string>();
    for (const n of ['blue', 'red', 'a'.repeat(63)]) {
      for (const p of ['h1', 'h2', 'x'.repeat(63)]) {
        for (const e of ['gre', 'vxlan'] as const) {
          const s = ovsTunnelPortName(n, p, e);
          assert.ok(Buffer.byteLength(s) <= 15, s);
          names.add(s);
        }
      }
      assert.ok(bridgeTunnelDeviceName(n, 'vxlan', 'h1').length <= 15);
    }
    assert.equal(names.size, 18);
    assert.match(ovsTunnelPortName('blue', 'h2', 'gre'), /^fg[0-9a-f]{12}$/);
    assert.match(bridgeTunnelDeviceName('blue', 'vxlan', 'h1'), /^vx-[0-9a-f]{11}$/);
  });

  it('diff: stale removed, changed replaced, unchanged kept', () => {
    const [p] = planMesh(hosts(3), [net()]);
    const want = p!.networks[0]!.tunnels;
    const stale = { ...want[0]!, port: ovsTunnelPortName('blue', 'h9', 'gre'), peer: 'h9', peerIp: '10.99.0.99' };
    const moved = { ...want[1]!, peerIp: '10.99.0.77' };
    const d = diffTunnels(want, [want[0]!, moved, stale]);
    assert.deepEqual(d.keep, [want[0]]);
    assert.deepEqual(d.add, [want[1]]);
    assert.deepEqual(d.remove.map((t) => t.peer).sort(), ['h3', 'h9']);
    assert.deepEqual(diffTunnels(want, want), {
      add: [],
      remove: [],
      keep: [...want].sort((a, b) => a.port.localeCompare(b.port)),
    });
  });

  it('refuses bad input with what to do', () => {
    const bad: [MeshHost[], MeshNetwork[], RegExp][] = [
      [hosts(2), [net({ members: ['h1', 'h7'] })], /member h7, which is not a known host/],
      [[...hosts(2), { name: 'h3', underlayIp: '10.99.0.11' }], [], /share underlay address/],
      [[{ name: 'h1', underlayIp: 'fd00::1' }], [], /not IPv4/],
      [hosts(3), [net({ key: 0 })], /key 0/],
      [hosts(3), [net({ key: 1 << 24 })], /key 16777216/],
      [hosts(3), [net(), net({ name: 'red' })], /both use gre key 100/],
      [hosts(3), [net({ bridge: 'a-very-long-bridge-name' })], /15/],
      [hosts(3), [net({ name: 'bad name' })], /network name/],
    ];
    for (const [h, n, re] of bad) {
      assert.throws(
        () => planMesh(h, n),
        (e: unknown) => e instanceof FleetnetError && e.kind === 'invalid' && re.test(e.message),
      );
    }
  });

  it('planForHost: a host in no network gets an empty plan', () => {
    assert.deepEqual(planForHost('h3', hosts(3), [net({ members: ['h1', 'h2'] })]), { host: 'h3', networks: [] });
    assert.deepEqual(planForHost('h9', hosts(3), []), { host: 'h9', networks: [] });
  });

  it("planForHost plans only that host, and equals planMesh's entry for it; bad input is refused the same", () => {
    const nets = [
      net({ members: ['h1', 'h2', 'h4', 'h5'] }),
      net({ name: 'green', kind: 'bridge', encap: 'vxlan', key: 42, bridge: 'br-green', members: ['h2', 'h3', 'h5'] }),
    ];
    const all = planMesh(hosts(5), nets);
    for (const p of all) assert.deepEqual(planForHost(p.host, hosts(5), nets), p);
    assert.throws(() => planForHost('h1', hosts(3), [net(), net({ name: 'red' })]), /both use gre key 100/);
  });
});
