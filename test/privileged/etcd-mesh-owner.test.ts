// The mesh pusher with several controllers on etcd (issue 13): a host's mesh is pushed only by the
// controller that owns the host (its dispatch lease), whichever controller took the mesh change;
// when that controller stops, the host's next owner pushes it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { silentLogger } from '../../common/logger.js';
import { startController, type ControllerHandle } from '../../controller/main.js';
import { addHost } from '../../controller/fleet/hosts.js';
import { createNetwork } from '../../controller/fleet/networks.js';
import { meshAdd } from '../../controller/mesh/fleet-mesh.js';
import type { MeshLinkFactory } from '../../controller/mesh/push.js';
import type { EtcdStore } from '../../controller/store/etcd/etcd-store.js';
import { MeshReply, MeshStatusReply } from '../../proto/gen/fleetnet/v1/agent.js';
import { fakeFleet } from '../helpers/controller-fake-agent.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { etcdControllerConfig, hostOwners, waitUntil } from '../helpers/ha-fleet.js';

const prefix = `/fleetnet-mesh-owner-${process.pid}/`;
const HOSTS = ['h1', 'h2', 'h3', 'h4'];
let etcd: TestEtcd;
const ctls: ControllerHandle[] = [];
/** Every ApplyMesh an agent received: which controller sent it. */
const pushes: { by: string; host: string }[] = [];

function recordingLinks(by: string): MeshLinkFactory {
  return (_addr, host) => ({
    applyMesh: async () => {
      pushes.push({ by, host });
      return MeshReply.fromPartial({});
    },
    meshStatus: async () => MeshStatusReply.fromPartial({}),
    close: () => undefined,
  });
}

async function startOne(by: string): Promise<ControllerHandle> {
  const cfg = etcdControllerConfig(etcd.urls, prefix, 300);
  const h = await startController(cfg, silentLogger(), { links: fakeFleet().links, meshLinks: recordingLinks(by) });
  ctls.push(h);
  return h;
}

const idOf = (h: ControllerHandle) => (h.store as EtcdStore).controllerId;
const owners = () => hostOwners(etcd.urls, prefix);
const waitFor = waitUntil;

before(async () => {
  etcd = await startTestEtcd(1);
});

after(async () => {
  for (const c of ctls) await c.stop().catch(() => undefined);
  await etcd?.stop();
});

test("each host's mesh is pushed only by its owner; the next owner takes over", async () => {
  const a = await startOne('A');
  const b = await startOne('B');
  const names = new Map([
    [idOf(a), 'A'],
    [idOf(b), 'B'],
  ]);
  await a.store.transact((tx) => {
    HOSTS.forEach((h, i) => {
      const ip = `10.98.0.${i + 1}`;
      addHost(tx, { name: h, agentAddr: `${ip}:7441`, underlayIp: ip }, 0);
    });
    createNetwork(tx, { name: 'm', subnets: ['10.21.0.0/16'], kind: 'bridge', mesh: { encap: 'vxlan', key: 0 } }, 0);
  });
  await waitFor('every host owned, two each', async () => {
    const o = Object.values(await owners());
    return o.length === 4 && o.filter((x) => x === idOf(a)).length === 2;
  });
  // The mesh change is taken by A alone: B's hosts are pushed by B (it sees the change through its watch).
  await a.store.transact((tx) => HOSTS.forEach((h) => meshAdd(tx, 'm', h)));
  await waitFor('every member pushed', () => new Set(pushes.map((p) => p.host)).size === 4);
  await new Promise((r) => setTimeout(r, 1000)); // a few resync rounds (300 ms) of both controllers
  const own = await owners();
  for (const p of pushes) {
    const owner = names.get(own[p.host]!);
    assert.equal(p.by, owner, `${p.host} pushed by ${p.by}, owned by ${owner}`);
  }

  // A stops: its hosts are B's now, and B pushes them.
  const aHosts = HOSTS.filter((h) => own[h] === idOf(a));
  await a.stop();
  ctls.splice(ctls.indexOf(a), 1);
  const from = pushes.length;
  await waitFor("A's hosts owned by B", async () => {
    const o = await owners();
    return aHosts.every((h) => o[h] === idOf(b));
  });
  const later = () => pushes.slice(from);
  await waitFor("B pushed A's hosts", () => aHosts.every((h) => later().some((p) => p.host === h && p.by === 'B')));
  assert.deepEqual(
    later().filter((p) => p.by !== 'B'),
    [],
    'nothing pushed by the stopped controller',
  );
});
