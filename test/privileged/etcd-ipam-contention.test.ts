// Allocations through two controllers' stores on one etcd (issue 13): a network's allocation cursor
// lives in its own key, written without a compare, so allocations never rewrite (and never conflict
// on) the network's record; addresses stay unique because each one is its own compared key.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { silentLogger } from '../../common/logger.js';
import { addHost } from '../../controller/fleet/hosts.js';
import { createNetwork } from '../../controller/fleet/networks.js';
import { allocateNext } from '../../controller/ipam/allocate.js';
import { EtcdStore } from '../../controller/store/etcd/etcd-store.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';

const prefix = `/fleetnet-ipam-${process.pid}/`;
let etcd: TestEtcd | undefined;
const open: { close(): void }[] = [];
after(async () => {
  for (const o of open) o.close();
  await etcd?.stop();
});

test('two controllers allocate in one network: unique addresses, the network record untouched', async () => {
  etcd = await startTestEtcd(1);
  const [a, b] = await Promise.all([0, 1].map(() => EtcdStore.open({ urls: etcd!.urls, prefix, log: silentLogger() })));
  open.push(a!, b!);
  await a!.transact((tx) => {
    addHost(tx, { name: 'h1', agentAddr: '10.99.0.11:7441' }, 0);
    createNetwork(tx, { name: 'n', subnets: ['10.50.0.0/24'], kind: 'bridge', bridge: 'br-n' }, 0);
  });
  const c = new Etcd3({ hosts: etcd.urls });
  open.push(c);
  const netRev = async () => (await c.get(`${prefix}d/nets/n`).exec()).kvs[0]!.mod_revision;
  const before = await netRev();
  const allocate = (s: EtcdStore, i: number) =>
    s.transact((tx) => {
      const n = tx.getNetwork('n')!;
      const addr = allocateNext(tx, n, 4, `owner${i}`).text;
      tx.putNetwork(n);
      return addr;
    });
  const got = await Promise.all(Array.from({ length: 120 }, (_, i) => allocate(i % 2 ? a! : b!, i)));
  assert.equal(new Set(got).size, got.length, 'no address twice');
  assert.equal(await netRev(), before, 'the network record was not rewritten by the allocations');
  assert.equal((a!.stats.lostOn['d/nets'] ?? 0) + (b!.stats.lostOn['d/nets'] ?? 0), 0, 'no transaction lost on it');
  // The cursor moved on: the next allocation continues after the last one, through either store.
  const last = got
    .map((x) => Number(x.split('/')[0]!.split('.')[3]))
    .sort((x, y) => x - y)
    .at(-1)!;
  const cursor = (await c.get(`${prefix}d/cur/n`).string())!;
  for (let i = 0; b!.mirror.get('d/cur/n')?.v !== cursor; i++) {
    assert.ok(i < 200, "b's mirror takes the last cursor from its watch");
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(await allocate(b!, 999), `10.50.0.${last + 1}/24`);
});
