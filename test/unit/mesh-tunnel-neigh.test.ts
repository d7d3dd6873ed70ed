// A host making a user-space (netdev) tunnel bridge: its ports with BFD on, then its own kernel asked to
// ARP the on-link peers now (which OVS snoops), not waited for: the exact commands of the exec path (`ip`
// through the Runner, as agents without in-process netlink run it), through a FakeRunner.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeRunner, type RecordedCall } from '../../common/runner.js';
import type { Tunnel } from '../../common/mesh.js';
import { OvsTunnels } from '../../agent/mesh/ovs-tunnels.js';
import { execNeighIo, neighLines } from '../../agent/linux/neigh-io.js';
import { addOvsTunnels, announceUnderlay, askPeers, findUnderlay, resolveAsks } from '../../agent/mesh/tunnel-neigh.js';

const DB = 'unix:/run/x/db.sock';
const ADDRS = JSON.stringify([
  { ifname: 'lo', addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8 }] },
  { ifname: 'br-phy', addr_info: [{ family: 'inet', local: '10.99.0.11', prefixlen: 24 }] },
]);

const tunnel = (peer: number, peerIp = `10.99.0.${10 + peer}`): Tunnel => ({
  network: 'blue',
  kind: 'ovs',
  encap: 'gre',
  key: 100,
  bridge: 'ovs-blue',
  port: `fgport${peer}`,
  peer: `h${peer}`,
  peerIp,
  localIp: '10.99.0.11',
});

/**
 * A host whose kernel holds these neighbour entries before the resolve and answers every peer it is
 * asked about (REACHABLE on the next read); vsctlFails: the ovs-vsctl call that contains this word fails.
 */
function host(before: object[] = [], o: { addrs?: string; vsctlFails?: string } = {}) {
  let asked = false;
  return new FakeRunner((c: RecordedCall) => {
    if (c.cmd === 'ip' && c.args.join(' ') === '-json -4 addr show') return { stdout: o.addrs ?? ADDRS };
    if (c.cmd === 'ip' && c.args[0] === '-force') {
      asked = true;
      return {};
    }
    if (c.cmd === 'ip' && c.args.includes('neigh')) {
      if (!asked) return { stdout: JSON.stringify(before) };
      const dsts = ['10.99.0.12', '10.99.0.13'];
      return {
        stdout: JSON.stringify(dsts.map((dst) => ({ dst, lladdr: '02:00:00:00:00:01', state: ['REACHABLE'] }))),
      };
    }
    if (c.cmd === 'ovs-vsctl' && o.vsctlFails && c.args.includes(o.vsctlFails)) return { code: 1, stderr: 'boom' };
    if (c.cmd === 'ovsdb-client') return { stdout: '[{}]' }; // the transaction committed
    return {};
  });
}

const line = (c: RecordedCall) => `${c.cmd} ${c.args.join(' ')}`;

describe('tunnel neighbours before BFD (user-space OVS)', () => {
  it('the underlay device is the one holding the local address; off-link peers and itself are left out', async () => {
    const u = await findUnderlay(execNeighIo(host()), '10.99.0.11', [
      '10.99.0.12',
      '10.99.0.11',
      '10.7.0.5',
      '10.99.0.12',
    ]);
    assert.deepEqual(u, { dev: 'br-phy', onLink: ['10.99.0.12'] });
    assert.equal(await findUnderlay(execNeighIo(host()), '10.99.0.99', ['10.99.0.12']), undefined);
    assert.equal(
      await findUnderlay(execNeighIo(host([], { addrs: 'not json' })), '10.99.0.11', ['10.99.0.12']),
      undefined,
    );
  });

  it('an unknown peer is resolved, a known one probed, a static entry left alone', () => {
    const known = new Map([
      ['10.99.0.13', { dst: '10.99.0.13', lladdr: '02:00:00:00:00:13', state: ['STALE'] }],
      ['10.99.0.14', { dst: '10.99.0.14', lladdr: '02:00:00:00:00:14', state: ['PERMANENT'] }],
      ['10.99.0.15', { dst: '10.99.0.15', state: ['FAILED'] }],
    ]);
    const asks = resolveAsks(['10.99.0.12', '10.99.0.13', '10.99.0.14', '10.99.0.15'], known);
    assert.deepEqual(neighLines('br-phy', asks), [
      'neigh replace 10.99.0.12 dev br-phy use',
      'neigh change 10.99.0.13 dev br-phy nud probe',
      'neigh replace 10.99.0.15 dev br-phy use',
    ]);
  });

  it('a bridge it makes: ports with BFD on in one transaction, then it announces itself, asks for peers', async () => {
    const r = host([{ dst: '10.99.0.13', lladdr: '02:00:00:00:00:13', state: ['STALE'] }]);
    const ovs = new OvsTunnels({ runner: r, ovsDb: DB });
    const ts = [tunnel(2), tunnel(3)];
    const o = { bridge: 'ovs-blue', made: true, datapathType: 'netdev' };
    const { asked } = await addOvsTunnels(ovs, ts, { ...o, runner: r });
    assert.deepEqual(await asked, ['10.99.0.12', '10.99.0.13']);
    const make = { bridge: 'ovs-blue', network: 'blue', datapathType: 'netdev' };
    assert.deepEqual(r.calls.map(line), [
      'ip -json -4 addr show',
      `ovs-vsctl ${ovs.addArgs(ts, make).join(' ')}`,
      'arping -q -U -c 3 -i 1 -I br-phy 10.99.0.11',
      'ip -json neigh show dev br-phy',
      'ip -force -batch -',
    ]);
    assert.ok(ovs.addArgs(ts, make).includes('bfd:enable=true'));
    assert.equal(
      r.calls[4]!.input,
      'neigh replace 10.99.0.12 dev br-phy use\nneigh change 10.99.0.13 dev br-phy nud probe\n',
    );
  });

  it('ports that cannot be made: the pass fails and nothing is asked of the neighbours', async () => {
    const r = host([], { vsctlFails: 'add-port' });
    const ovs = new OvsTunnels({ runner: r, ovsDb: DB });
    await assert.rejects(
      addOvsTunnels(ovs, [tunnel(2)], { bridge: 'ovs-blue', made: true, datapathType: 'netdev', runner: r }),
    );
    assert.ok(!r.calls.some((c) => c.args.includes('neigh')));
  });

  it('askPeers: an unreadable table means nothing known (each peer resolved afresh); it never throws', async () => {
    const r = new FakeRunner((c) => (c.args.includes('show') ? { code: 1, stderr: 'boom' } : {}));
    assert.deepEqual(await askPeers(execNeighIo(r), { dev: 'br-phy', onLink: ['10.99.0.12'] }), ['10.99.0.12']);
    assert.equal(r.calls.at(-1)!.input, 'neigh replace 10.99.0.12 dev br-phy use\n');
    const broken = { ...execNeighIo(r), neighbours: () => Promise.reject(new Error('socket gone')) };
    assert.deepEqual(await askPeers(broken, { dev: 'br-phy', onLink: ['10.99.0.12'] }), []);
  });

  it('one step as before: a bridge it has, or a kernel datapath; nothing asked of the neighbours', async () => {
    const ts = [tunnel(2)];
    const cases = [
      { r: host(), o: { bridge: 'ovs-blue', made: false, datapathType: 'netdev' } },
      { r: host(), o: { bridge: 'ovs-blue', made: true, datapathType: 'system' } },
    ];
    for (const { r, o } of cases) {
      const ovs = new OvsTunnels({ runner: r, ovsDb: DB });
      await addOvsTunnels(ovs, ts, { ...o, runner: r });
      // Ports on a bridge it has: one OVSDB transaction; a bridge to make: ovs-vsctl.
      const want = o.made
        ? `ovs-vsctl ${ovs.addArgs(ts, { bridge: o.bridge, network: 'blue', datapathType: o.datapathType }).join(' ')}`
        : `ovsdb-client ${ovs.addTxnArgs(ts).join(' ')}`;
      assert.deepEqual(r.calls.map(line), [want]);
      assert.match(r.calls[0]!.args.join(' '), /bfd:enable=true|"bfd":\["map",\[\["enable","true"\]\]\]/);
    }
  });

  it('no local device with the address (looked up while the ports are made): no peer asked for', async () => {
    const r = host([], { addrs: '[]' });
    const ovs = new OvsTunnels({ runner: r, ovsDb: DB });
    const ts = [tunnel(2)];
    await addOvsTunnels(ovs, ts, { bridge: 'ovs-blue', made: true, datapathType: 'netdev', runner: r });
    assert.deepEqual(r.calls.map(line), [
      'ip -json -4 addr show',
      `ovs-vsctl ${ovs.addArgs(ts, { bridge: 'ovs-blue', network: 'blue', datapathType: 'netdev' }).join(' ')}`,
    ]);
  });

  it('the underlay announcement: one arping in the background; failing or missing, it is logged', async () => {
    const logged: string[] = [];
    const log = {
      debug: (_o: object, m: string) => logged.push(`debug ${m}`),
      info: (_o: object, m: string) => logged.push(`info ${m}`),
    };
    const fails = new FakeRunner(() => ({ code: 2, stderr: 'arping: bind: Cannot assign requested address' }));
    announceUnderlay(fails, log as never, 'br-phy', '10.99.0.11');
    assert.deepEqual(fails.calls.map(line), ['arping -q -U -c 3 -i 1 -I br-phy 10.99.0.11']);
    const missing = new FakeRunner(() => {
      throw new Error('spawn arping ENOENT');
    });
    announceUnderlay(missing, log as never, 'br-phy', '10.99.0.11');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(logged, ['debug underlay announcement failed', 'info underlay not announced (arping)']);
  });
});
