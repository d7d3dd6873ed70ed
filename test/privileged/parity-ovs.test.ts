// Docker containers on an Open vSwitch bridge of a private user-space OVS inside a test netns.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { existsSync } from 'node:fs';
import { probeOvs } from '../../agent/linux/capabilities.js';
import { OvsCtl } from '../../agent/ovs/vsctl.js';
import {
  container,
  runner,
  scope,
  inContainer,
  netns,
  sh,
  startAgentProc,
  startOvs,
  tempDir,
  uniq,
} from './parity-env.js';

/** A test host: a netns with its own user-space OVS and an agent inside it. */
async function ovsHost(tc: Parameters<typeof scope>[0], datapath?: string) {
  const t = scope(tc);
  const p = uniq();
  const ns = await netns(t, `${p}-host`);
  const dir = tempDir(t, p);
  const db = await startOvs(t, ns, dir);
  const agent = await startAgentProc(t, dir, { ns, ovsDb: db, ...(datapath ? { datapath } : {}) });
  return { t, p, ns, db, agent };
}

test(
  'OVS: containers ping, VLAN tags isolate, ports carry external_ids, ' + 'a created bridge goes with its last port',
  async (tc) => {
    const { t, p, db, agent } = await ovsHost(tc, 'netdev');
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((x) => container(t, `${p}-${x}`, p)));
    const br = `ovs${p}`.slice(0, 15);

    let r = await agent.cli(['attach', br, a!.name, '10.7.0.1/24', '@10']);
    assert.equal(r.code, 0, r.stderr);
    r = await agent.cli(['attach', br, b!.name, '10.7.0.2/24', '@10']);
    assert.equal(r.code, 0, r.stderr);
    r = await agent.cli(['attach', br, c!.name, '10.7.0.3/24', '@20']);
    assert.equal(r.code, 0, r.stderr);

    const vsctl = (...args: string[]) => sh('ovs-vsctl', [`--db=${db}`, ...args]);
    assert.equal((await vsctl('get', 'bridge', br, 'datapath_type')).stdout.trim(), 'netdev');
    assert.equal((await vsctl('br-get-external-id', br, 'fleetnet')).stdout.trim(), 'owned');
    const ports = (await vsctl('list-ports', br)).stdout.trim().split('\n');
    assert.equal(ports.length, 3);
    const tags = await Promise.all(ports.map(async (x) => (await vsctl('get', 'port', x, 'tag')).stdout.trim()));
    assert.deepEqual(tags.sort(), ['10', '10', '20']);
    const ext = (await vsctl('get', 'port', ports[0]!, 'external_ids')).stdout;
    assert.match(ext, /fleetnet-attachment=/);
    assert.match(ext, /fleetnet-container=/);
    assert.match(ext, /fleetnet-ifname=eth1/);

    const ping = (from: string, to: string) => inContainer(from, ['ping', '-c', '1', '-W', '2', to]);
    assert.equal((await ping(a!.name, '10.7.0.2')).code, 0, 'same VLAN pings');
    assert.notEqual((await ping(a!.name, '10.7.0.3')).code, 0, 'another VLAN does not');

    // Ports carry fleetnet's external_ids: a restarted agent recognises them, and detaches through them.
    const owned = await new OvsCtl(runner, db).ownedPorts();
    assert.deepEqual(owned.map((o) => o.container).sort(), [a!.name, b!.name, c!.name].sort());
    await agent.restart();
    assert.equal(
      (await agent.cli(['attach', br, a!.name, '10.7.0.1/24', '@10'])).stdout.startsWith('already attached'),
      true,
    );
    // Even with its records gone (state dir lost), the agent finds c's port by its external_ids.
    await agent.restart({ wipeState: true });
    const r2 = await agent.cli(['detach', c!.name]);
    assert.match(r2.stdout, /^detached eth1/, r2.stdout + r2.stderr);
    assert.equal((await vsctl('list-ports', br)).stdout.trim().split('\n').length, 2);
    await agent.restart(); // records back, c's included: detaching it again finds nothing left to remove
    for (const x of [a, b, c]) assert.equal((await agent.cli(['detach', x!.name])).code, 0);
    assert.equal(
      (await vsctl('br-exists', br).catch((e: { code?: number }) => ({ code: e.code ?? 1 }))).code !== 0,
      true,
      'the bridge fleetnet created is gone',
    );
  },
);

test(
  'OVS: a bridge fleetnet found stays after the last detach; ' + 'a system datapath is refused before anything changes',
  async (tc) => {
    const { t, p, ns, db, agent } = await ovsHost(tc);
    const a = await container(t, `${p}-a`, p);
    const found = `ovf${p}`.slice(0, 15);
    await sh('ovs-vsctl', [`--db=${db}`, 'add-br', found, '--', 'set', 'bridge', found, 'datapath_type=netdev']);
    let r = await agent.cli(['attach', found, a.name, '10.8.0.1/24']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await agent.cli(['detach', a.name])).code, 0);
    assert.equal((await sh('ovs-vsctl', [`--db=${db}`, 'br-exists', found], true)).code, 0, 'found bridge survives');

    // The probe against this OVS: it answers, user space forwards, the kernel datapath only with the module.
    const kmod = existsSync('/sys/module/openvswitch');
    const caps = await probeOvs(runner, true, { ovsDb: db });
    assert.deepEqual(
      caps.map((c) => `${c.name}:${c.available}`),
      ['ovs:true', 'ovs-netdev:true', `ovs-system:${kmod}`],
    );
    if (kmod) {
      tc.diagnostic(
        'this kernel has the openvswitch module: the refusal of a system-datapath bridge cannot be shown here',
      );
      return;
    }
    // This kernel has no openvswitch module: a system-datapath bridge (the agent's default here) is refused.
    const before = (await sh('ovs-vsctl', [`--db=${db}`, 'show'])).stdout;
    const linksBefore = (await sh('ip', ['-n', ns, '-o', 'link'])).stdout;
    r = await agent.cli(['attach', `ovs${p}`.slice(0, 15), a.name, '10.8.0.2/24']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /no Open vSwitch datapath \(openvswitch module, CONFIG_OPENVSWITCH\)/);
    assert.match(r.stderr, /--ovs-datapath netdev/);
    assert.equal((await sh('ovs-vsctl', [`--db=${db}`, 'show'])).stdout, before);
    assert.equal((await sh('ip', ['-n', ns, '-o', 'link'])).stdout, linksBefore);
  },
);
