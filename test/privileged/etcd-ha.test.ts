// Several controllers, one fleet (issue 13): a 3-member etcd on loopback, 3 controller processes
// (in-memory agents) and 3 hosts. 1,000 concurrent allocations spread over the controllers while
// the etcd leader is killed and one controller is killed -9: no address or MAC twice, every
// acknowledged allocation present, every host owned by a live controller and converged again.
// Then etcd without a quorum: "store unavailable" (CLI exit 1), nothing half-made, and service
// resumes by itself when the members return.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { FLEETNET } from '../helpers/agent-process.js';
import { ensureBuilt } from '../helpers/build.js';
import { openEtcdStore, useEtcdStores } from '../helpers/controller-store.js';
import { leaderIndex, startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { attachFailover, killHa, startHaController, type HaController } from '../helpers/ha-fleet.js';
import { ExecRunner } from '../../common/runner.js';
import { CreateNetworkRequest } from '../../proto/gen/fleetnet/v1/controller.js';
import type { EtcdStore } from '../../controller/store/etcd/etcd-store.js';

const N = 1000;
const prefix = `/fleetnet-ha-${process.pid}/`;
let etcd: TestEtcd;
let ctls: HaController[] = [];
let view: EtcdStore;

const addHost = (c: HaController, name: string, addr: string) =>
  new Promise<void>((resolve, reject) => c.client.addHost({ name, agentAddr: addr, underlayIp: '' }, (err) => (err ? reject(err) : resolve())));
const addNet = (c: HaController) =>
  new Promise<void>((resolve, reject) =>
    c.client.createNetwork(CreateNetworkRequest.fromPartial({ network: { name: 'ha', subnets: ['10.20.0.0/16'], bridge: 'br-ha', kind: 'bridge' } }), (err) => (err ? reject(err) : resolve())),
  );

async function waitFor(what: string, ok: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  await ensureBuilt();
  etcd = await startTestEtcd(3);
  useEtcdStores(etcd.urls);
  ctls = await Promise.all([0, 1, 2].map(() => startHaController(etcd.urls, prefix)));
  for (const i of [1, 2, 3]) await addHost(ctls[i % 3]!, `h${i}`, `10.99.0.${10 + i}:7441`);
  await addNet(ctls[0]!);
  view = await openEtcdStore(prefix);
});

after(async () => {
  view?.close();
  for (const c of ctls) await killHa(c, 'SIGTERM');
  await etcd?.stop();
});

test('1,000 allocations over 3 controllers survive the etcd leader and a controller killed -9', async () => {
  const acks = new Map<string, { address: string; mac: string }>();
  let chaos: Promise<void> | undefined;
  const deadline = Date.now() + 120_000;
  const work = Array.from({ length: N }, (_, i) => async () => {
    const r = await attachFailover(ctls, i, `h${(i % 3) + 1}`, 'ha', `c${i}`, deadline);
    acks.set(`c${i}`, { address: r.attachment!.addresses[0]!, mac: r.attachment!.mac });
    if (!chaos && acks.size >= N / 4) {
      chaos = (async () => {
        await etcd.kill(await leaderIndex(etcd));
        while (acks.size < N / 2) await new Promise((r) => setTimeout(r, 10));
        await killHa(ctls[1]!, 'SIGKILL');
      })();
    }
  });
  await Promise.all(work.map((w) => w()));
  await chaos;
  assert.equal(acks.size, N);

  const atts = await view.read((tx) => tx.listAttachments({ net: 'ha' }));
  const addrs = atts.map((a) => a.addresses[0]!.cidr);
  const macs = atts.map((a) => a.mac);
  assert.equal(new Set(addrs).size, addrs.length, 'no address handed out twice');
  assert.equal(new Set(macs).size, macs.length, 'no MAC handed out twice');
  const byTarget = new Map(atts.map((a) => [a.target.value, a]));
  for (const [target, ack] of acks) {
    const a = byTarget.get(target);
    assert.ok(a, `acknowledged ${target} is in the store`);
    assert.equal(a.addresses[0]!.cidr, ack.address);
    assert.equal(a.mac, ack.mac);
  }
  for (const a of atts) assert.equal(await view.read((tx) => tx.addressHolder('ha', a.addresses[0]!.cidr.split('/')[0]!)), a.id);

  // Every host owned by a live controller, and converged: every attachment up, generations observed.
  const live = new Set([ctls[0]!.id, ctls[2]!.id]);
  const c = new Etcd3({ hosts: etcd.urls.filter((_, i) => etcd.procs[i]) });
  try {
    await waitFor('every host owned by a live controller', async () => {
      const owners = await c.getAll().prefix(`${prefix}o/hosts/`).strings();
      return Object.keys(owners).length === 3 && Object.values(owners).every((o) => live.has(o));
    });
  } finally {
    c.close();
  }
  await waitFor('every host converged', () => view.read((tx) =>
    tx.listHosts().every((h) => h.observedGeneration === h.generation && h.state === 'up') &&
    tx.listAttachments().every((a) => a.state === 'up')));
});

test('etcd without a quorum: "store unavailable", exit 1, nothing half-made; service resumes by itself', async () => {
  const sh = new ExecRunner();
  // Counted before the members go (this test's own view reads from its watch, which goes down with them).
  const before = await view.read((tx) => tx.countAttachments());
  const alive = etcd.procs.map((p, i) => (p ? i : -1)).filter((i) => i >= 0);
  await etcd.kill(alive[0]!);
  if (alive.length > 2) await etcd.kill(alive[1]!);
  const live = ctls.filter((x) => x.proc.exitCode === null && x.proc.signalCode === null);
  const cli = (...args: string[]) => sh.run('node', [FLEETNET, '--controller', live[0]!.listen, ...args], { allowFail: true });
  const r = await cli('attach', '--host', 'h1', '--net', 'ha', 'nq1');
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /store unavailable/);
  for (let i = 0; i < etcd.members.length; i++) if (!etcd.procs[i]) await etcd.restart(i);
  await waitFor('the attach goes through again', async () => (await cli('attach', '--host', 'h1', '--net', 'ha', 'nq2', '--json')).code === 0);
  // Judged from a store opened after the members returned: this test's long-lived view had its watch on a killed
  // member, and whether such a watch resumes is a known open question (see the README's etcd section).
  const fresh = await openEtcdStore(prefix);
  try {
    const all = await fresh.read((tx) => tx.listAttachments().map((a) => `${a.target.value} ${a.state}`));
    assert.equal(all.length, before + 1, `exactly the one attach that was acknowledged: ${all.slice(-5).join(', ')}`);
    assert.equal(await fresh.read((tx) => tx.listAttachments().some((a) => a.target.value === 'nq1')), false, 'the refused attach left nothing');
  } finally {
    fresh.close();
  }
});
