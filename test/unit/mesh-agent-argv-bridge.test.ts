// The exact commands the agent's mesh runs for Linux-bridge tunnels, through a FakeRunner: kernel VXLAN
// and gretap (this kernel has no gretap), the firewall, and the plan's way to the agent. The fake host:
// mesh-agent-fixture.ts.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { FakeRunner } from '../../common/runner.js';
import { BridgeTunnels } from '../../agent/mesh/bridge-tunnels.js';
import { MeshFirewall, nftScript } from '../../agent/mesh/firewall.js';
import { iptablesRestoreInput, parseIptablesChain } from '../../agent/mesh/firewall-iptables.js';
import { FleetnetError } from '../../common/errors.js';
import { planMesh } from '../../common/mesh/plan.js';
import { agentMeshSpec } from '../../common/mesh/to-agent.js';
import { meshSpecFromProto } from '../../agent/service/mesh-convert.js';
import { fakeHost, greenNet, hosts, isWrite, mesher, removeStateDirs, specFor } from './mesh-agent-fixture.js';

after(removeStateDirs);

describe('Linux-bridge tunnels (argv)', () => {
  const green = greenNet();

  it('kernel VXLAN: bridge + device in one ip -batch, one flood entry per peer, firewall for the peers', async () => {
    const spec = specFor(1, [green]);
    const r = fakeHost();
    const res = await mesher(r).apply(spec);
    const dev = spec.networks[0]!.tunnels[0]!.port;
    const w = r.calls.filter(isWrite);
    assert.deepEqual(
      w.map((c) => [c.cmd, ...c.args]),
      [
        ['ip', '-batch', '-'],
        ['bridge', '-batch', '-'],
        ['nft', '-f', '-'],
      ],
    );
    assert.equal(
      w[1]!.input,
      `fdb append 00:00:00:00:00:00 dev ${dev} dst 10.99.0.12\n` +
        `fdb append 00:00:00:00:00:00 dev ${dev} dst 10.99.0.13\n`,
    );
    assert.equal(
      w[0]!.input,
      [
        'link add br-green type bridge',
        'link set dev br-green alias fleetnet:owned up',
        `link add ${dev} type vxlan id 42 local 10.99.0.11 dstport 4789 nolearning`,
        `link set dev ${dev} alias fleetnet-mesh:green mtu 1450 master br-green up`,
        '',
      ].join('\n'),
    );
    assert.match(w[2]!.input!, /set peers \{ type ipv4_addr; elements = \{ 10\.99\.0\.12, 10\.99\.0\.13 \}; \}/);
    assert.match(w[2]!.input!, /udp dport @ports ip saddr != @peers counter drop/);
    assert.equal(res.changes, 3);
    assert.equal(res.added.length, 2);
    assert.deepEqual(res.errors, []);
  });

  it('gretap where the kernel has it: one isolated device per peer', async () => {
    const spec = specFor(2, [{ ...green, name: 'olive', encap: 'gre', key: 7, bridge: 'br-olive' }]);
    const r = fakeHost({ links: '[{"ifname":"br-olive","linkinfo":{"info_kind":"bridge"}}]' });
    await mesher(r, { gretap: true }).apply(spec);
    const [t1, t3] = spec.networks[0]!.tunnels;
    const batches = r.calls.filter((c) => c.args.includes('-batch')).map((c) => c.input);
    assert.deepEqual(
      batches,
      [t1!, t3!].map((t) =>
        [
          `link add ${t.port} type gretap local 10.99.0.12 remote ${t.peerIp} key 7`,
          `link set dev ${t.port} alias fleetnet-mesh:olive mtu 1458 master br-olive up`,
          `link set dev ${t.port} type bridge_slave isolated on`,
          '',
        ].join('\n'),
      ),
    );
    assert.deepEqual(new BridgeTunnels(r).floodArgs('del', t1!), [
      'fdb',
      'del',
      '00:00:00:00:00:00',
      'dev',
      t1!.port,
      'dst',
      '10.99.0.11',
    ]);
  });

  it('says clearly when the kernel lacks gretap, runs nothing for that network, still does the others', async () => {
    const spec = specFor(1, [
      { ...green, encap: 'gre' },
      { ...green, name: 'teal', key: 43, bridge: 'br-teal' },
    ]);
    const r = fakeHost();
    const res = await mesher(r).apply(spec);
    assert.equal(res.errors.length, 1);
    assert.equal(res.errors[0]!.network, 'green');
    assert.match(res.errors[0]!.message, /kernel has no gretap \(CONFIG_NET_IPGRE, module ip_gre\)/);
    assert.equal(res.errors[0]!.kind, 'unsupported', 'waiting will not mend it (mesh add --wait stops)');
    assert.ok(!r.calls.some((c) => c.input?.includes('gretap')));
    assert.equal(
      r.calls
        .filter((c) => c.cmd === 'bridge' && c.args[0] === '-batch')[0]!
        .input!.split('\n')
        .filter((l) => l.startsWith('fdb append')).length,
      2,
    );
  });

  it('the firewall script replaces the table atomically and drops it when no kernel tunnel is left', () => {
    assert.equal(nftScript(undefined), 'table ip fleetnet\ndelete table ip fleetnet\n');
    assert.match(
      nftScript({ peers: ['10.99.0.13', '10.99.0.12', '10.99.0.12'], ports: [4789] }),
      /elements = \{ 10\.99\.0\.12, 10\.99\.0\.13 \}/,
    );
    assert.throws(() => nftScript({ peers: ['10.0.0.1; flush ruleset'], ports: [] }), /not an IPv4 address/);
  });

  it('without nft the firewall is an iptables chain, rewritten in one iptables-restore', async () => {
    const input = iptablesRestoreInput({ peers: ['10.99.0.13', '10.99.0.12'], ports: [4789] });
    assert.equal(
      input,
      [
        '*filter',
        ':FLEETNET-MESH - [0:0]',
        '-F FLEETNET-MESH',
        '-A FLEETNET-MESH -s 10.99.0.12/32 -j RETURN',
        '-A FLEETNET-MESH -s 10.99.0.13/32 -j RETURN',
        '-A FLEETNET-MESH -p udp -m udp --dport 4789 -j DROP',
        '-A FLEETNET-MESH -p gre -j DROP',
        'COMMIT',
        '',
      ].join('\n'),
    );
    const listed = input
      .split('\n')
      .filter((l) => l.startsWith('-A'))
      .join('\n');
    assert.deepEqual(parseIptablesChain(`-N FLEETNET-MESH\n${listed}\n`), {
      peers: ['10.99.0.12', '10.99.0.13'],
      ports: [4789],
    });
    const r = new FakeRunner((c) => {
      if (c.cmd === 'nft') throw new FleetnetError('unsupported', 'nft is not installed on this host');
      return c.cmd === 'iptables' && (c.args[1] === '-S' || c.args[1] === '-C') ? { code: 1 } : {};
    });
    const fw = new MeshFirewall(r);
    assert.equal(await fw.ensure({ peers: ['10.99.0.12'], ports: [4789] }), true);
    assert.equal(fw.kind(), 'iptables');
    assert.deepEqual(
      r.calls.map((c) => [c.cmd, ...c.args]),
      [
        ['nft', '-j', 'list', 'table', 'ip', 'fleetnet'],
        ['iptables', '-w', '-S', 'FLEETNET-MESH'],
        ['iptables', '-w', '-C', 'INPUT', '-j', 'FLEETNET-MESH'],
        ['iptables-restore', '-w', '--noflush'],
        ['iptables', '-w', '-I', 'INPUT', '1', '-j', 'FLEETNET-MESH'],
      ],
    );
  });

  it('a device batch that fails halfway leaves no device behind', async () => {
    const spec = specFor(1, [green]);
    const r = fakeHost({ batchError: 'RTNETLINK answers: Invalid argument\nCommand failed -:4' });
    const res = await mesher(r).apply(spec);
    const dev = spec.networks[0]!.tunnels[0]!.port;
    assert.equal(res.errors.length, 2); // one per peer: each tried, each undone
    assert.equal(r.calls.filter((c) => c.cmd === 'ip' && c.args.join(' ') === `link del dev ${dev}`).length, 2);
    assert.equal(r.calls.filter((c) => c.cmd === 'bridge').length, 0);
  });

  it('plan -> ApplyMesh request (controller) -> agent spec: the same tunnels arrive', () => {
    const plan = planMesh(hosts, [
      green,
      { name: 'blue', kind: 'ovs', encap: 'gre', key: 100, bridge: 'ovs-blue', members: ['h1', 'h3'] },
    ])[0]!;
    const got = meshSpecFromProto(agentMeshSpec(plan, 7, { datapathType: 'netdev' }));
    assert.deepEqual(got, { generation: 7, networks: plan.networks.map((n) => ({ ...n, datapathType: 'netdev' })) });
    const msg = agentMeshSpec(plan, 8);
    msg.networks[0]!.encap = 'ipip';
    assert.throws(() => meshSpecFromProto(msg), /encapsulation 'ipip' is not gre or vxlan/);
  });
});
