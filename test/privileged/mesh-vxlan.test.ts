// A Linux-bridge network meshed with kernel VXLAN (one device per network, a flood entry per
// peer) on real namespaces, with fleetnet's nftables table (or iptables chain) dropping VXLAN from non-peers.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { planMesh } from '../../common/mesh/plan.js';
import { join } from 'node:path';
import { silentLogger } from '../../common/logger.js';
import { Mesher } from '../../agent/mesh/mesher.js';
import type { MeshResult } from '../../agent/mesh/spec.js';
import { isMeshWrite, MeshFleet, type SimContainer } from '../helpers/mesh-fleet.js';
import { sh } from '../helpers/netns.js';
import { newRunId } from '../helpers/docker.js';
import { greenNet } from '../unit/mesh-agent-fixture.js';

let fleet: MeshFleet;
let generation = 0;
const green = greenNet({ members: ['h1', 'h2'] });
const c: Record<string, SimContainer> = {};

async function applyAll(): Promise<Map<string, MeshResult>> {
  const out = await fleet.applyPlan([green], ++generation);
  for (const [h, res] of out) assert.deepEqual(res.errors, [], `${h}: ${JSON.stringify(res.errors)}`);
  return out;
}

const device = () =>
  planMesh(
    fleet.hosts.map((h) => ({ name: h.name, underlayIp: h.underlayIp })),
    [green],
  )[0]!.networks[0]!.tunnels[0]!.port;

describe('mesh of a Linux-bridge network over kernel VXLAN', () => {
  before(async () => {
    fleet = await MeshFleet.create(newRunId('v'), 3);
    await applyAll();
    c.g1 = await fleet.container('h1', 'bridge', 'br-green', '10.2.2.1/24', 1450);
    c.g2 = await fleet.container('h2', 'bridge', 'br-green', '10.2.2.2/24', 1450);
  });
  after(async () => {
    await fleet?.destroy();
    assert.deepEqual(await fleet?.leftovers(), []);
  });

  it('containers on two hosts ping; DF at MTU-28 passes, one byte more fails', async () => {
    assert.ok(await fleet.pingEventually(c.g1!, '10.2.2.2'));
    assert.ok((await fleet.ping(c.g1!, '10.2.2.2', { df: true, size: 1422 })).ok);
    assert.equal((await fleet.ping(c.g1!, '10.2.2.2', { df: true, size: 1423 })).ok, false);
    const link = JSON.parse(
      (await sh.run('ip', ['-n', fleet.host('h1').netns, '-json', '-d', 'link', 'show', device()])).stdout,
    )[0];
    assert.equal(link.linkinfo.info_data.learning, false);
    assert.equal(link.ifalias, 'fleetnet-mesh:green');
    assert.equal(link.master, 'br-green');
  });

  it(
    'a joining host: ' + 'one tunnel (flood entry) on each existing host, plus its firewall allowing the newcomer',
    async () => {
      for (const h of fleet.hosts) h.runner.calls.length = 0;
      green.members.push('h3');
      const res = await applyAll();
      for (const h of ['h1', 'h2']) {
        const w = fleet.host(h).runner.calls.filter(isMeshWrite);
        assert.deepEqual(
          w.map((x) => [x.cmd, ...x.args]),
          [
            ['bridge', 'fdb', 'append', '00:00:00:00:00:00', 'dev', device(), 'dst', '10.99.0.13'],
            ['nft', '-f', '-'],
          ],
        );
        assert.deepEqual([res.get(h)!.added.length, res.get(h)!.removed.length, res.get(h)!.kept], [1, 0, 1]);
      }
      c.g3 = await fleet.container('h3', 'bridge', 'br-green', '10.2.2.3/24', 1450);
      assert.ok(await fleet.pingEventually(c.g3, '10.2.2.1'));
      assert.ok(await fleet.pingEventually(c.g3, '10.2.2.2'));
    },
  );

  it('a flooded frame reaches each host once', async () => {
    assert.deepEqual(await fleet.arpRequestsSeen(c.g1!, [c.g2!, c.g3!], '10.2.2.200'), [1, 1]);
  });

  it("a non-peer sending VXLAN to a host reaches no container; without fleetnet's table it would", async () => {
    const x = await fleet.addIntruder(42, '10.99.0.11', '10.2.2.99/24');
    const intrude = () => fleet.framesSeen(c.g1!, '10.2.2.99', () => fleet.ping(x, '10.2.2.1', { count: 2 }));
    assert.equal(await intrude(), '');
    // Positive control: the same packets reach the container once fleetnet's table is gone.
    const h1 = fleet.host('h1');
    await sh.run('ip', ['netns', 'exec', h1.netns, 'nft', 'delete', 'table', 'ip', 'fleetnet']);
    assert.notEqual(await intrude(), '');
    // The iptables backend (hosts without nft) keeps the intruder out the same way.
    const ipt = new Mesher({
      runner: h1.runner,
      stateDir: join(h1.dir, 'agent-ipt'),
      log: silentLogger(),
      hasGretap: async () => false,
      firewall: 'iptables',
    });
    const r1 = await ipt.apply(h1.mesher.current());
    assert.deepEqual([r1.changes, r1.added.length, r1.errors], [1, 0, []]); // only the chain: the tunnels are there
    assert.equal(await intrude(), '');
    const chain = (await sh.run('ip', ['netns', 'exec', h1.netns, 'iptables', '-w', '-S', 'FLEETNET-MESH'])).stdout;
    assert.match(chain, /-s 10\.99\.0\.12\/32 -j RETURN/);
    for (const args of [
      ['-D', 'INPUT', '-j', 'FLEETNET-MESH'],
      ['-F', 'FLEETNET-MESH'],
      ['-X', 'FLEETNET-MESH'],
    ]) {
      await sh.run('ip', ['netns', 'exec', h1.netns, 'iptables', '-w', ...args]);
    }
    assert.notEqual(await intrude(), '');
    // ... and the next pass of the nft agent puts its table back.
    const res = await h1.mesher.reconcile();
    assert.equal(res.changes, 1);
    assert.equal(await intrude(), '');
  });

  it('a flood entry or the whole device deleted by hand comes back after the next pass', async () => {
    const h1 = fleet.host('h1');
    await sh.run('bridge', ['-n', h1.netns, 'fdb', 'del', '00:00:00:00:00:00', 'dev', device(), 'dst', '10.99.0.12']);
    let res = await h1.mesher.reconcile();
    assert.deepEqual([res.added.map((t) => t.peer), res.changes], [['h2'], 1]);
    await sh.run('ip', ['-n', h1.netns, 'link', 'del', device()]);
    assert.equal((await fleet.ping(c.g1!, '10.2.2.2')).ok, false);
    res = await h1.mesher.reconcile();
    assert.deepEqual(
      res.added.map((t) => t.peer),
      ['h2', 'h3'],
    );
    // A new device goes back under the bridge; the container's own port was never touched.
    assert.ok(await fleet.pingEventually(c.g1!, '10.2.2.2'));
    assert.ok(await fleet.pingEventually(c.g1!, '10.2.2.3'));
  });

  it('an underlay link down shows in status (reachability probe)', async () => {
    const h1 = fleet.host('h1');
    const st = async () => (await h1.mesher.status()).map((s) => `${s.peer}:${s.state}`).sort();
    assert.deepEqual(await st(), ['h2:up', 'h3:up']);
    await sh.run('ip', ['-n', fleet.switchNs, 'link', 'set', fleet.host('h3').switchPort, 'down']);
    try {
      assert.deepEqual(await st(), ['h2:up', 'h3:down']);
    } finally {
      await sh.run('ip', ['-n', fleet.switchNs, 'link', 'set', fleet.host('h3').switchPort, 'up']);
    }
    assert.deepEqual(await st(), ['h2:up', 'h3:up']);
  });

  it('leaving the mesh removes the device and the firewall table when no kernel tunnel is left', async () => {
    green.members = ['h1', 'h2'];
    await applyAll();
    const h3 = fleet.host('h3');
    assert.equal(
      (await sh.run('ip', ['-n', h3.netns, 'link', 'show', device()], { allowFail: true })).code !== 0,
      true,
    );
    assert.notEqual(
      (await sh.run('ip', ['netns', 'exec', h3.netns, 'nft', 'list', 'table', 'ip', 'fleetnet'], { allowFail: true }))
        .code,
      0,
    );
    assert.ok((await fleet.ping(c.g1!, '10.2.2.2')).ok);
  });
});
