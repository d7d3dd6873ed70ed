// The exact commands the agent's mesh runs, through a FakeRunner: OVS GRE/VXLAN ports, kernel
// VXLAN and gretap (this kernel has no gretap), the firewall, and what a pass does with a read-back.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { silentLogger } from '../../common/logger.js';
import { FakeRunner, type RecordedCall } from '../../common/runner.js';
import { BridgeTunnels } from '../../agent/mesh/bridge-tunnels.js';
import { MeshFirewall, nftScript } from '../../agent/mesh/firewall.js';
import { iptablesRestoreInput, parseIptablesChain } from '../../agent/mesh/firewall-iptables.js';
import { FleetnetError } from '../../common/errors.js';
import { Mesher, type MeshSpec } from '../../agent/mesh/mesher.js';
import { OvsTunnels } from '../../agent/mesh/ovs-tunnels.js';
import { bfdState } from '../../agent/mesh/status.js';
import { planMesh, type MeshNetwork, type Tunnel } from '../../common/mesh/plan.js';
import { agentMeshSpec } from '../../common/mesh/to-agent.js';
import { meshSpecFromProto } from '../../agent/service/mesh-convert.js';

const DB = 'unix:/run/x/db.sock';
const hosts = [1, 2, 3].map((i) => ({ name: `h${i}`, underlayIp: `10.99.0.${10 + i}` }));

function specFor(host: number, nets: MeshNetwork[], generation = 1, datapathType?: string): MeshSpec {
  const p = planMesh(hosts, nets)[host - 1]!;
  return { generation, networks: p.networks.map((n) => ({ ...n, ...(datapathType ? { datapathType } : {}) })) };
}

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
function stateDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'fleetnet-mesh-unit-'));
  dirs.push(d);
  return d;
}

/** OVSDB as `ovs-vsctl --format=json list bridge/port/interface` prints it. */
interface ListedPort {
  name: string;
  bridge: string;
  net: string;
  peer: string;
  type: string;
  key: number;
  remote: string;
  local: string;
  /** Listed with BFD off (made in two steps, the second never came). */
  bfdOff?: boolean;
}

function ovsListing(bridges: string[], ports: ListedPort[], noDatapath: string[] = []): string {
  const portsOf = (b: string) => ['set', ports.filter((p) => p.bridge === b).map((p) => ['uuid', `u-${p.name}`])];
  // datapath_id: set by ovs-vswitchd once it made the bridge; the empty set when it could not.
  const dpid = (b: string) => (noDatapath.includes(b) ? ['set', []] : '00001234');
  const br = {
    headings: ['name', 'ports', 'datapath_type', 'datapath_id'],
    data: bridges.map((b) => [b, portsOf(b), 'system', dpid(b)]),
  };
  const port = {
    headings: ['_uuid', 'name', 'external_ids'],
    data: ports.map((p) => [
      ['uuid', `u-${p.name}`],
      p.name,
      [
        'map',
        [
          ['fleetnet-net', p.net],
          ['fleetnet-peer', p.peer],
        ],
      ],
    ]),
  };
  const iface = {
    headings: ['name', 'type', 'options', 'bfd_status', 'bfd'],
    data: ports.map((p) => [
      p.name,
      p.type,
      [
        'map',
        [
          ['key', String(p.key)],
          ['local_ip', p.local],
          ['remote_ip', p.remote],
        ],
      ],
      [
        'map',
        [
          ['state', 'up'],
          ['forwarding', 'true'],
        ],
      ],
      ['map', p.bfdOff ? [] : [['enable', 'true']]],
    ]),
  };
  return [br, port, iface].map((x) => JSON.stringify(x)).join('\n') + '\n';
}

/** The ports of these tunnels as OVSDB lists them once a pass made them. */
const listedPorts = (ts: readonly Tunnel[], type = 'gre', key = 100): ListedPort[] =>
  ts.map((t) => ({
    name: t.port,
    bridge: t.bridge,
    net: t.network,
    peer: t.peer,
    type,
    key,
    remote: t.peerIp,
    local: t.localIp,
  }));

/**
 * A host as the FakeRunner plays it: `ovs-vsctl list` prints ovs() (no ovs(): no OVS database), `ip -json`
 * prints these links, fleetnet has no nft table yet, an `ip -batch` fails with batchError; the rest succeeds.
 */
function fakeHost(o: { ovs?: () => string; links?: string; batchError?: string } = {}): FakeRunner {
  return new FakeRunner((c) => {
    if (c.cmd === 'ovs-vsctl')
      return !o.ovs ? { code: 1, stderr: 'no db' } : c.args.includes('list') ? { stdout: o.ovs() } : {};
    if (c.cmd === 'ip' && c.args[0] === '-json') return { stdout: o.links ?? '[]' };
    if (c.cmd === 'ip' && c.args[0] === '-batch' && o.batchError) return { code: 1, stderr: o.batchError };
    return c.cmd === 'nft' && c.args[0] === '-j' ? { code: 1 } : {};
  });
}

/** A Mesher on that host with its own state folder; gretap only where the test says the kernel has it. */
function mesher(runner: FakeRunner, o: { ovsDb?: string; gretap?: boolean; dir?: string } = {}): Mesher {
  const hasGretap = async () => o.gretap ?? false;
  return new Mesher({ runner, ovsDb: o.ovsDb, stateDir: o.dir ?? stateDir(), log: silentLogger(), hasGretap });
}

const isWrite = (c: RecordedCall) =>
  (c.cmd === 'ovs-vsctl' && c.args.some((a) => a === 'add-port' || a === 'del-port' || a === 'add-br')) ||
  (c.cmd === 'ip' && c.args.includes('-batch')) ||
  (c.cmd === 'bridge' && (c.args[0] === '-batch' || (c.args[0] === 'fdb' && c.args[1] !== 'show'))) ||
  (c.cmd === 'nft' && c.args[0] === '-f') ||
  (c.cmd === 'ip' && c.args[0] === 'link' && c.args[1] === 'del');

describe('OVS tunnel ports (argv)', () => {
  it("GRE port: one ovs-vsctl with key, local_ip, BFD, protected and fleetnet marks, on the agent's --ovs-db", () => {
    const t = planMesh(hosts, [
      { name: 'blue', kind: 'ovs', encap: 'gre', key: 100, bridge: 'ovs-blue', members: ['h1', 'h2'] },
    ])[0]!.networks[0]!.tunnels[0]!;
    assert.deepEqual(new OvsTunnels({ runner: new FakeRunner(), ovsDb: DB }).addArgs(t), [
      `--db=${DB}`,
      '--timeout=10',
      '--may-exist',
      'add-port',
      'ovs-blue',
      t.port,
      '--',
      'set',
      'interface',
      t.port,
      'type=gre',
      'options:remote_ip=10.99.0.12',
      'options:key=100',
      'options:local_ip=10.99.0.11',
      'bfd:enable=true',
      '--',
      'set',
      'port',
      t.port,
      'protected=true',
      'external_ids:fleetnet-net=blue',
      'external_ids:fleetnet-peer=h2',
    ]);
    assert.match(t.port, /^fg[0-9a-f]{12}$/);
  });

  it('VXLAN port and removal; no --db when the agent has no --ovs-db', () => {
    const t = planMesh(hosts, [
      { name: 'red', kind: 'ovs', encap: 'vxlan', key: 5000, bridge: 'ovs-red', members: ['h1', 'h3'] },
    ])[2]!.networks[0]!.tunnels[0]!;
    const o = new OvsTunnels({ runner: new FakeRunner() });
    assert.deepEqual(o.addArgs(t).slice(0, 11), [
      '--timeout=10',
      '--may-exist',
      'add-port',
      'ovs-red',
      t.port,
      '--',
      'set',
      'interface',
      t.port,
      'type=vxlan',
      'options:remote_ip=10.99.0.11',
    ]);
    assert.ok(o.addArgs(t).includes('options:key=5000') && o.addArgs(t).includes('options:local_ip=10.99.0.13'));
    assert.deepEqual(o.removeArgs(t), ['--timeout=10', '--if-exists', 'del-port', 'ovs-red', t.port]);
  });

  it('read-back parses ovs-vsctl JSON into tunnels', async () => {
    const r = new FakeRunner(() => ({
      stdout: ovsListing(
        ['ovs-blue', 'br-phy'],
        [
          {
            name: 'fgaaaa',
            bridge: 'ovs-blue',
            net: 'blue',
            peer: 'h2',
            type: 'gre',
            key: 100,
            remote: '10.99.0.12',
            local: '10.99.0.11',
          },
        ],
      ),
    }));
    const s = await new OvsTunnels({ runner: r, ovsDb: DB }).list();
    assert.deepEqual(s.tunnels, [
      {
        network: 'blue',
        kind: 'ovs',
        encap: 'gre',
        key: 100,
        bridge: 'ovs-blue',
        port: 'fgaaaa',
        peer: 'h2',
        peerIp: '10.99.0.12',
        localIp: '10.99.0.11',
      },
    ]);
    assert.deepEqual([...s.bridges], ['ovs-blue', 'br-phy']);
    assert.equal(bfdState(s.bfd.get('fgaaaa')).state, 'up');
    assert.equal(
      bfdState({ state: 'down', forwarding: 'false', diagnostic: 'Control Detection Time Expired' }).state,
      'down',
    );
    assert.equal(bfdState(undefined).state, 'unknown');
  });
});

describe('mesh pass (FakeRunner)', () => {
  const blue: MeshNetwork = {
    name: 'blue',
    kind: 'ovs',
    encap: 'gre',
    key: 100,
    bridge: 'ovs-blue',
    members: ['h1', 'h2', 'h3'],
  };

  it('makes the missing bridge and one port per peer; a second pass on that state changes nothing', async () => {
    const spec = specFor(1, [blue], 1, 'netdev');
    let listing = ovsListing(['br-phy'], []);
    const r = fakeHost({ ovs: () => listing });
    const m = mesher(r, { ovsDb: DB });
    const res = await m.apply(spec);
    const ts = spec.networks[0]!.tunnels;
    // One transaction: the bridge (absent) and both ports.
    assert.equal(res.changes, 1);
    assert.deepEqual(
      r.calls.filter(isWrite).map((c) => c.args),
      [
        [
          `--db=${DB}`,
          '--timeout=10',
          '--may-exist',
          'add-br',
          'ovs-blue',
          '--',
          'set',
          'bridge',
          'ovs-blue',
          'datapath_type=netdev',
          ...[...ts]
            .sort((a, b) => a.port.localeCompare(b.port))
            .flatMap((t) => ['--', ...new OvsTunnels({ runner: r }).addArgs(t).slice(1)]),
        ],
      ],
    );
    assert.deepEqual(res.added.map((t) => t.peer).sort(), ['h2', 'h3']);
    listing = ovsListing(['br-phy', 'ovs-blue'], listedPorts(ts));
    r.calls.length = 0;
    const again = await m.reconcile();
    assert.equal(again.changes, 0);
    assert.equal(again.kept, 2);
    assert.deepEqual(r.calls.filter(isWrite), []);
  });

  it('a port listed with BFD off is added again, which turns BFD on; the others are kept', async () => {
    const spec = specFor(1, [blue], 1, 'netdev');
    const ts = spec.networks[0]!.tunnels;
    const [a, b] = listedPorts(ts);
    const r = fakeHost({ ovs: () => ovsListing(['ovs-blue'], [{ ...a!, bfdOff: true }, b!]) });
    const res = await mesher(r, { ovsDb: DB }).apply(spec);
    const again = ts.find((t) => t.port === a!.name)!;
    assert.deepEqual(
      r.calls.filter(isWrite).map((c) => c.args),
      [new OvsTunnels({ runner: r, ovsDb: DB }).addArgs([again])],
    );
    assert.ok(r.calls.filter(isWrite)[0]!.args.includes('bfd:enable=true'));
    assert.deepEqual([res.kept, res.added.map((t) => t.port)], [1, [a!.name]]);
  });

  it('removes a stale port and leaves ports it does not own alone', async () => {
    const spec = specFor(1, [{ ...blue, members: ['h1', 'h2'] }]);
    const t = spec.networks[0]!.tunnels[0]!;
    const [ours] = listedPorts([t]);
    const stale = { ...ours!, name: 'fgstale', peer: 'h3', remote: '10.99.0.13' };
    const listing = ovsListing(['ovs-blue'], [ours!, stale]);
    const r = fakeHost({ ovs: () => listing });
    const res = await mesher(r, { ovsDb: DB }).apply(spec);
    assert.deepEqual(
      r.calls.filter(isWrite).map((c) => c.args),
      [[`--db=${DB}`, '--timeout=10', '--if-exists', 'del-port', 'ovs-blue', 'fgstale']],
    );
    assert.deepEqual([res.changes, res.kept, res.removed.map((x) => x.port)], [1, 1, ['fgstale']]);
  });

  // Not converged (the reason, --ovs-datapath netdev), tunnels down in status.
  it('a bridge in the database but not in the datapath', async () => {
    const spec = specFor(1, [blue]);
    const listing = ovsListing(['ovs-blue'], listedPorts(spec.networks[0]!.tunnels), ['ovs-blue']);
    const m = mesher(fakeHost({ ovs: () => listing }), { ovsDb: DB });
    const res = await m.apply(spec);
    assert.equal(res.errors.length, 1, JSON.stringify(res.errors));
    assert.match(
      res.errors[0]!.message,
      /ovs-blue is in the database but not in the datapath.*fix: .*--ovs-datapath netdev/,
    );
    const st = await m.status();
    assert.deepEqual([...new Set(st.map((s) => s.state))], ['down']);
    assert.match(st[0]!.detail, /not in the datapath/);
  });

  it('refuses an older generation and keeps the spec across a restart', async () => {
    const dir = stateDir();
    const r = fakeHost({ ovs: () => ovsListing([], []) });
    const m = mesher(r, { dir });
    await m.apply({ generation: 5, networks: [] });
    await assert.rejects(m.apply({ generation: 4, networks: [] }), /older than the one this agent holds \(5\)/);
    assert.equal(mesher(r, { dir }).current().generation, 5);
  });
});

describe('Linux-bridge tunnels (argv)', () => {
  const green: MeshNetwork = {
    name: 'green',
    kind: 'bridge',
    encap: 'vxlan',
    key: 42,
    bridge: 'br-green',
    members: ['h1', 'h2', 'h3'],
  };

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
        'link set dev br-green up',
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
