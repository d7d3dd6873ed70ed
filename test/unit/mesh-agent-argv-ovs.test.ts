// The exact commands the agent's mesh runs for OVS, through a FakeRunner: GRE/VXLAN ports, their
// read-back, and what a pass does with it. The fake host: mesh-agent-fixture.ts.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { FakeRunner } from '../../common/runner.js';
import { OvsTunnels } from '../../agent/mesh/ovs-tunnels.js';
import { bfdState } from '../../agent/mesh/status.js';
import { planMesh, type Tunnel } from '../../common/mesh/plan.js';
import { blueNet, fakeHost, hosts, isWrite, mesher, removeStateDirs, specFor, stateDir } from './mesh-agent-fixture.js';

const DB = 'unix:/run/x/db.sock';
after(removeStateDirs);

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
  /** bfd:decay_min_rx as listed (absent: not set). */
  decay?: number;
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
      [
        'map',
        [
          ...(p.bfdOff ? [] : [['enable', 'true']]),
          ...(p.decay === undefined ? [] : [['decay_min_rx', String(p.decay)]]),
        ],
      ],
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
  const blue = blueNet();

  it('makes the missing bridge and one port per peer; a second pass on that state changes nothing', async () => {
    const spec = specFor(1, [blue], 1, 'netdev');
    let listing = ovsListing(['br-phy'], []);
    const r = fakeHost({ ovs: () => listing });
    const m = mesher(r, { ovsDb: DB });
    const res = await m.apply(spec);
    const ts = spec.networks[0]!.tunnels;
    // One transaction: the bridge (absent, marked as fleetnet's) and both ports with BFD on (a user-space bridge
    // made: the underlay device is looked up meanwhile; this host has none with the address, so no peer is asked for).
    assert.equal(res.changes, 1);
    const sorted = [...ts].sort((a, b) => a.port.localeCompare(b.port));
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
          'external_ids:fleetnet=owned', // fleetnet's (mesh-owned-bridge.test.ts)
          'external_ids:fleetnet-net=blue',
          ...sorted.flatMap((t) => ['--', ...new OvsTunnels({ runner: r }).addArgs(t).slice(1)]),
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
    const o = new OvsTunnels({ runner: r, ovsDb: DB });
    // The one-transaction add is refused (the port's name is taken); ovs-vsctl sets the port again.
    assert.deepEqual(
      r.calls.filter(isWrite).map((c) => c.args),
      [o.addTxnArgs([again]), o.addArgs([again])],
    );
    assert.ok(r.calls.filter(isWrite)[1]!.args.includes('bfd:enable=true'));
    assert.deepEqual([res.kept, res.added.map((t) => t.port)], [1, [a!.name]]);
  });

  it('BFD decay: in the BFD settings of a port, and a port listed without it is set again', async () => {
    const spec = specFor(1, [blue], 1, 'netdev');
    const ts = spec.networks[0]!.tunnels;
    const o = new OvsTunnels({ runner: new FakeRunner(), ovsDb: DB, bfdDecayMs: 5000 });
    const iface = (args: string[]) => args.slice(args.indexOf('interface') + 2, args.indexOf('port') - 2);
    assert.deepEqual(iface(o.addArgs(ts[0]!)).slice(-2), ['bfd:enable=true', 'bfd:decay_min_rx=5000']);
    // An older agent's port (no decay) and one with another decay are set again; the one as wanted is kept.
    const [a, b] = listedPorts(ts);
    const listed = [
      { ...a!, decay: 5000 },
      { ...b!, decay: 2000 },
    ];
    const r = fakeHost({ ovs: () => ovsListing(['ovs-blue'], listed) });
    const res = await mesher(r, { ovsDb: DB, bfdDecayMs: 5000 }).apply(spec);
    const again = ts.find((t) => t.port === b!.name)!;
    const decaying = new OvsTunnels({ runner: r, ovsDb: DB, bfdDecayMs: 5000 });
    assert.deepEqual(
      r.calls.filter(isWrite).map((c) => c.args),
      [decaying.addTxnArgs([again]), decaying.addArgs([again])],
    );
    assert.deepEqual([res.kept, res.added.map((t) => t.port)], [1, [b!.name]]);
    // 0: no decay wanted, written as such; a port with none listed is as wanted.
    const none = fakeHost({ ovs: () => ovsListing(['ovs-blue'], listedPorts(ts)) });
    const kept = await mesher(none, { ovsDb: DB, bfdDecayMs: 0 }).apply(spec);
    assert.deepEqual([kept.kept, none.calls.filter(isWrite)], [2, []]);
    assert.ok(new OvsTunnels({ runner: none, bfdDecayMs: 0 }).addArgs(ts[0]!).includes('bfd:decay_min_rx=0'));
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
    assert.equal(res.errors[0]!.kind, 'unsupported');
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
