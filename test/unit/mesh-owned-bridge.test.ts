// The bridges the mesh makes are fleetnet's (OVS: external_ids fleetnet=owned, fleetnet-net, fleetnet-owner;
// Linux: alias fleetnet:owned) and go with the network's last tunnels on the host (net rm, mesh rm), unless
// something else is on them; a bridge fleetnet did not make stays. One an agent stopped halfway left behind goes
// at its next start, and `fleetnet check`'s orphan sweep finds it. Through a FakeRunner playing OVS.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ownedKeeper } from '../../agent/attach/ownership.js';
import { RecordStore } from '../../agent/attach/records.js';
import { findOrphans } from '../../agent/lifecycle/orphans.js';
import { Mesher } from '../../agent/mesh/mesher.js';
import { OvsTunnels } from '../../agent/mesh/ovs-tunnels.js';
import type { MeshSpec } from '../../agent/mesh/spec.js';
import { OvsCtl } from '../../agent/ovs/vsctl.js';
import { silentLogger } from '../../common/logger.js';
import { FakeRunner } from '../../common/runner.js';
import { FakeOvs } from './mesh-fake-ovs.js';
import { blueNet, removeStateDirs, specFor, stateDir } from './mesh-agent-fixture.js';

after(removeStateDirs);

const MARK = 'fleetnet:a0123456789';
const MESH_MADE = { fleetnet: 'owned', 'fleetnet-net': 'blue', 'fleetnet-owner': MARK };
const EMPTY: MeshSpec = { generation: 2, networks: [] };

/** A Mesher on the fake host with the Attacher's keeper as the agent wires it (records, the mesh's holds). */
function meshHost(runner: FakeRunner, o: { dir?: string; sys?: string } = {}) {
  const dir = o.dir ?? stateDir();
  const records = new RecordStore(join(dir, 'records'));
  const ovs = new OvsCtl(runner);
  const holds = { mesher: undefined as Mesher | undefined };
  const busy = (name: string) => !!holds.mesher?.holds(name);
  const sys = o.sys ? { sysClassNet: o.sys } : {};
  const owned = ownedKeeper({ runner, ovs, records, busy, ...sys }, (_n, fn) => fn());
  const log = silentLogger();
  const m = new Mesher({ runner, stateDir: dir, log, hasGretap: async () => false, ownerMark: MARK, owned });
  holds.mesher = m;
  return { m, records, owned, ovs };
}

const until = async (ok: () => boolean) => {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(ok());
};

describe('OVS bridges the mesh makes', () => {
  const spec = specFor(1, [blueNet()]);
  const ts = spec.networks[0]!.tunnels;

  it("are marked as fleetnet's, with the network and the agent that made them", () => {
    const args = new OvsTunnels({ runner: new FakeRunner(), ownerMark: MARK }).addArgs(ts, {
      bridge: 'ovs-blue',
      network: 'blue',
      datapathType: 'netdev',
    });
    const set = args.slice(args.indexOf('set'), args.indexOf('set') + 7);
    assert.deepEqual(set, [
      'set',
      'bridge',
      'ovs-blue',
      'datapath_type=netdev',
      'external_ids:fleetnet=owned',
      'external_ids:fleetnet-net=blue',
      `external_ids:fleetnet-owner=${MARK}`,
    ]);
  });

  it('the network leaves the host (net rm, mesh rm): its ports go, then the bridge it made', async () => {
    const ovs = new FakeOvs().bridge('ovs-blue', MESH_MADE).bridge('br-phy').tunnels(ts);
    const { m } = meshHost(ovs.runner);
    assert.equal((await m.apply({ ...spec, generation: 1 })).changes, 0);
    const res = await m.apply(EMPTY);
    assert.deepEqual(res.errors, []);
    // One transaction for the ports (as before), then the bridge, once nothing is left on it.
    const [ports, bridge, ...more] = ovs.writes();
    for (const t of ts) assert.ok(ports!.includes(`--if-exists del-port ovs-blue ${t.port}`), ports);
    assert.deepEqual([bridge, more], ['--if-exists del-br ovs-blue', []]);
    assert.deepEqual([...ovs.bridges.keys()], ['br-phy']);
  });

  it('a bridge fleetnet did not make, or one something else is on, stays (only the tunnels go)', async () => {
    for (const ovs of [
      new FakeOvs().bridge('ovs-blue').tunnels(ts),
      new FakeOvs().bridge('ovs-blue', MESH_MADE).tunnels(ts).port('ovs-blue', 'vethuser'),
    ]) {
      const { m } = meshHost(ovs.runner);
      await m.apply({ ...spec, generation: 1 });
      await m.apply(EMPTY);
      assert.ok(!ovs.writes().some((w) => w.includes('del-br')), ovs.writes().join('\n'));
      assert.ok(ovs.bridges.has('ovs-blue'));
      assert.equal(ovs.bridges.get('ovs-blue')!.ports.filter((p) => p.startsWith('fg')).length, 0);
    }
  });

  it("a bridge a host still meshes (no tunnel left: the only member) is no one's to remove", async () => {
    const alone = specFor(1, [blueNet({ members: ['h1'] })], 2);
    const ovs = new FakeOvs().bridge('ovs-blue', MESH_MADE).tunnels(ts);
    const { m, owned } = meshHost(ovs.runner);
    await m.apply(alone);
    assert.ok(ovs.bridges.has('ovs-blue'));
    assert.equal(await owned.release({ type: 'ovs-bridge', name: 'ovs-blue' }, { bare: true }), false);
  });

  it("left behind by an agent stopped halfway: its next start removes it, not another agent's", async () => {
    const dir = stateDir();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'mesh.json'), JSON.stringify({ generation: 7, networks: [] }));
    const other = { ...MESH_MADE, 'fleetnet-net': 'red', 'fleetnet-owner': 'fleetnet:a9999999999' };
    const ovs = new FakeOvs().bridge('ovs-blue', MESH_MADE).bridge('ovs-red', other);
    const { m } = meshHost(ovs.runner, { dir });
    m.resume();
    await until(() => !ovs.bridges.has('ovs-blue'));
    await m.reconcile();
    assert.deepEqual(ovs.writes(), ['--if-exists del-br ovs-blue']);
    assert.ok(ovs.bridges.has('ovs-red'));
  });

  it("check's orphan sweep finds one the mesh made and no longer names, also on a shared OVS", async () => {
    const green = { ...MESH_MADE, 'fleetnet-net': 'teal' };
    const ovs = new FakeOvs().bridge('ovs-teal', green);
    const { m, records, owned } = meshHost(ovs.runner);
    await m.apply(specFor(1, [blueNet({ name: 'teal', bridge: 'ovs-teal', members: ['h1'] })], 3));
    // Left behind by this agent's mesh (its network no longer named), and by another agent's.
    ovs.bridge('ovs-blue', MESH_MADE).bridge('ovs-x', { ...MESH_MADE, 'fleetnet-owner': 'fleetnet:a9999999999' });
    const found = await findOrphans({
      runner: ovs.runner,
      ovs: new OvsCtl(ovs.runner),
      records,
      inProgress: () => new Set(),
      removeIfUnclaimed: async () => false,
      ownerMark: MARK,
      privateOvs: false,
      log: silentLogger(),
      owned,
      ovsBridges: true,
    });
    assert.deepEqual(
      found.map((o) => [o.type, o.name]),
      [['ovs-bridge', 'ovs-blue']],
    );
    assert.match(found[0]!.detail, /OVS bridge ovs-blue fleetnet made for a mesh, with no port/);
  });
});

describe('Linux bridges the mesh makes', () => {
  it("go with the network's VXLAN device; one fleetnet did not make stays", async () => {
    const sys = stateDir();
    for (const [br, alias] of [
      ['br-green', 'fleetnet:owned'],
      ['br-teal', ''],
    ]) {
      mkdirSync(join(sys, br!, 'bridge'), { recursive: true });
      writeFileSync(join(sys, br!, 'ifalias'), `${alias}\n`);
      writeFileSync(join(sys, br!, 'type'), '1\n');
    }
    const vx = (net: string, br: string) => ({
      ifname: `vx-${net}`,
      ifalias: `fleetnet-mesh:${net}`,
      master: br,
      linkinfo: { info_kind: 'vxlan', info_data: { id: 42, local: '10.99.0.11', port: 4789 } },
    });
    const links = [vx('green', 'br-green'), vx('teal', 'br-teal')];
    const r = new FakeRunner((c) =>
      c.cmd === 'ip' && c.args[0] === '-json'
        ? { stdout: JSON.stringify(links) }
        : c.cmd === 'bridge'
          ? { stdout: '[]' }
          : c.cmd === 'nft' && c.args[0] === '-j'
            ? { code: 1 }
            : undefined,
    );
    const { m } = meshHost(r, { sys });
    await m.apply(EMPTY);
    const dels = r.calls.filter((c) => c.cmd === 'ip' && c.args.includes('del')).map((c) => c.args.join(' '));
    assert.deepEqual(dels, ['link del dev vx-green', 'link del dev vx-teal', 'link del br-green']);
  });
});
