// Allocations through several controllers' stores on one etcd (issue 13). Each controller hands
// out addresses from address blocks it claimed (controller/ipam/blocks.ts): blocks never overlap,
// a full block moves on to a new one (and is searched again once an address in it is freed), a pool
// without an unclaimed block still hands out the free addresses in other controllers' blocks, and a
// stopped controller's blocks lapse. Allocations never rewrite the network's record (its cursor lives
// in its own key, written without a compare).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { silentLogger } from '../../common/logger.js';
import { addHost } from '../../controller/fleet/hosts.js';
import { createNetwork } from '../../controller/fleet/networks.js';
import { allocateNext } from '../../controller/ipam/allocate.js';
import { EtcdStore } from '../../controller/store/etcd/etcd-store.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';

let etcd: TestEtcd;
let c: Etcd3;
let seq = 0;
const open: { close(): void }[] = [];
before(async () => {
  etcd = await startTestEtcd(1);
  c = new Etcd3({ hosts: etcd.urls });
});
after(async () => {
  for (const o of open) o.close();
  c?.close();
  await etcd?.stop();
});

/** `count` stores (controllers) on a fresh prefix, with host h1 and network n of `subnet` (within `range`). */
async function controllers(count: number, subnet: string, range?: { start: string; end: string }) {
  const prefix = `/fleetnet-ipam-${process.pid}-${++seq}/`;
  const stores = await Promise.all(
    Array.from({ length: count }, () => EtcdStore.open({ urls: etcd.urls, prefix, log: silentLogger() })),
  );
  open.push(...stores);
  await stores[0]!.transact((tx) => {
    addHost(tx, { name: 'h1', agentAddr: '10.99.0.11:7441' }, 0);
    createNetwork(
      tx,
      { name: 'n', subnets: [subnet], kind: 'bridge', bridge: 'br-n', ...(range ? { ipamRanges: [range] } : {}) },
      0,
    );
  });
  for (const s of stores) await caughtUp(s, 'd/nets/n');
  return { prefix, stores };
}

/** Until store s's mirror holds key k (its watch brought it). */
async function caughtUp(s: EtcdStore, k: string, present = true): Promise<void> {
  for (let i = 0; (s.mirror.get(k) !== undefined) !== present; i++) {
    assert.ok(i < 200, `the watch brings ${k}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

let owners = 0;
const allocate = (s: EtcdStore) =>
  s.transact((tx) => {
    const n = tx.getNetwork('n')!;
    const addr = allocateNext(tx, n, 4, `owner${++owners}`).text.split('/')[0]!;
    tx.putNetwork(n);
    return addr;
  });
const lastOctet = (a: string) => Number(a.split('.')[3]);

/** The block keys under a prefix: block → controller. */
async function blocks(prefix: string): Promise<Map<string, string>> {
  const all = await c.getAll().prefix(`${prefix}d/blk/n/`).strings();
  return new Map(Object.entries(all).map(([k, v]) => [decodeURIComponent(k.slice(`${prefix}d/blk/n/`.length)), v]));
}
const inBlock = (addr: string, block: string) => lastOctet(addr) >> 6 === lastOctet(block.split('/')[0]!) >> 6;

test('three controllers allocate at once: disjoint blocks, unique addresses, none lost to another', async () => {
  const { prefix, stores } = await controllers(3, '10.50.0.0/16');
  const netRev = async () => (await c.get(`${prefix}d/nets/n`).exec()).kvs[0]!.mod_revision;
  const before = await netRev();
  const lostOnAddr = () => stores.reduce((sum, s) => sum + (s.stats.lostOn['d/addr'] ?? 0), 0);
  const got: { a: string; by: EtcdStore }[] = [];
  const burst = async (perController: number) => {
    const all = Array.from({ length: perController * 3 }, (_, i) => stores[i % 3]!);
    got.push(...(await Promise.all(all.map((s) => allocate(s).then((a) => ({ a, by: s }))))));
  };
  // One at a time first: each claims a block (and the others see it before they claim theirs).
  for (const s of stores) {
    got.push({ a: await allocate(s), by: s });
    for (const o of stores) await caughtUp(o, `d/cur/n`);
    for (const block of (await blocks(prefix)).keys())
      for (const o of stores) await caughtUp(o, `d/blk/n/${encodeURIComponent(block)}`);
  }
  const lostBefore = lostOnAddr();
  // Within their blocks (62 free addresses each at most), at once: nobody races anybody for an address.
  await burst(60);
  assert.equal(lostOnAddr(), lostBefore, 'no transaction lost on an address another controller took');
  // Past the first blocks (new claims, at once).
  await burst(100);
  assert.equal(new Set(got.map((g) => g.a)).size, got.length, 'no address twice');
  const held = await blocks(prefix);
  for (const { a, by } of got) {
    const mine = [...held].filter(
      ([b, who]) => who === by.controllerId && a.startsWith(b.split('.', 3).join('.') + '.'),
    );
    assert.ok(
      mine.some(([b]) => inBlock(a, b)),
      `${a} lies in a block of the controller that handed it out`,
    );
  }
  // A block is one key, so it has one holder; the blocks are aligned /26s, so they do not overlap.
  const starts = [...held.keys()].map((b) => b.split('/')[0]!);
  assert.equal(new Set(starts).size, starts.length);
  assert.ok(
    [...held.keys()].every((b) => b.endsWith('/26') && lastOctet(b.split('/')[0]!) % 64 === 0),
    [...held.keys()].join(' '),
  );
  assert.equal(new Set(held.values()).size, 3, 'each controller claimed its own blocks');
  assert.equal(await netRev(), before, 'the network record was not rewritten by the allocations');
});

test('a full block moves on to a new block; addresses reserved without blocks are respected', async () => {
  const { prefix, stores } = await controllers(1, '10.51.0.0/24');
  const [s] = stores as [EtcdStore];
  // Reservations of a fleet written before blocks existed (or static asks): never handed out again.
  await s.transact((tx) => {
    for (const x of [1, 2, 3, 70]) tx.reserveAddress('n', `10.51.0.${x}`, `old${x}`);
  });
  const got: string[] = [];
  for (let i = 0; i < 70; i++) got.push(await allocate(s));
  assert.deepEqual(got.slice(0, 3), ['10.51.0.4', '10.51.0.5', '10.51.0.6']);
  assert.equal(got[59], '10.51.0.63', 'the first block filled up');
  assert.deepEqual(got.slice(60, 63), ['10.51.0.64', '10.51.0.65', '10.51.0.66'], 'then the next block');
  assert.ok(!got.includes('10.51.0.70'));
  const held = await blocks(prefix);
  assert.deepEqual([...held.keys()].sort(), ['10.51.0.0/26', '10.51.0.64/26']);
  assert.ok([...held.values()].every((v) => v === s.controllerId));
});

test('no unclaimed block left: the free addresses of another controller’s block are handed out', async () => {
  // Range .1–.126: two blocks (.1–.63, .64–.126).
  const { prefix, stores } = await controllers(2, '10.52.0.0/24', { start: '10.52.0.1', end: '10.52.0.126' });
  const [a, b] = stores as [EtcdStore, EtcdStore];
  const first = await allocate(a);
  await caughtUp(b, `d/blk/n/${encodeURIComponent('10.52.0.0/26')}`);
  const got = [first];
  for (let i = 0; i < 63; i++) got.push(await allocate(b));
  assert.ok(
    got.slice(1).every((x) => lastOctet(x) >= 64),
    'b filled the block it claimed',
  );
  // b's block is full and no block is unclaimed: b takes a free address in a's block.
  const fromA = await allocate(b);
  assert.ok(lastOctet(fromA) < 64 && fromA !== first, fromA);
  got.push(fromA);
  for (;;) {
    const r = await allocate(b).catch((e: Error) => e);
    if (r instanceof Error) {
      assert.match(r.message, /no free IPv4 address/);
      break;
    }
    got.push(r);
  }
  assert.equal(new Set(got).size, 126, 'every address of the range, each once, before "no free address"');
  const held = await blocks(prefix);
  assert.equal(held.get('10.52.0.0/26'), a.controllerId);
  assert.equal(held.get('10.52.0.64/26'), b.controllerId);
});

test('a full block is skipped until one of its addresses is freed (by any controller), then found again', async () => {
  // Range .1–.190: three blocks (.1–.63, .64–.127, .128–.190); b only frees.
  const { stores } = await controllers(2, '10.55.0.0/24', { start: '10.55.0.1', end: '10.55.0.190' });
  const [a, b] = stores as [EtcdStore, EtcdStore];
  const got: string[] = [];
  for (let i = 0; i < 127; i++) got.push(await allocate(a));
  assert.equal(got[126], '10.55.0.127', 'the first two blocks are full');
  await b.transact((tx) => tx.releaseAddress('n', '10.55.0.10'));
  await caughtUp(a, `d/addr/n/${encodeURIComponent('10.55.0.10')}`, false);
  assert.equal(await allocate(a), '10.55.0.10', 'the freed address of a full block, before a new block');
  assert.equal(await allocate(a), '10.55.0.128', 'then a new block');
  await a.transact((tx) => tx.releaseAddress('n', '10.55.0.100'));
  assert.equal(await allocate(a), '10.55.0.129', 'the block in use first');
  for (let i = 130; i <= 190; i++) assert.equal(await allocate(a), `10.55.0.${i}`);
  assert.equal(await allocate(a), '10.55.0.100', 'then the one freed here');
});

test("a stopped controller's blocks lapse; their addresses stay reserved", async () => {
  const { prefix, stores } = await controllers(2, '10.53.0.0/24');
  const [a, b] = stores as [EtcdStore, EtcdStore];
  const mine = await allocate(a);
  assert.equal((await blocks(prefix)).get('10.53.0.0/26'), a.controllerId);
  a.close();
  for (let i = 0; (await blocks(prefix)).size; i++) {
    assert.ok(i < 100, 'the block is given up when its controller stops');
    await new Promise((r) => setTimeout(r, 50));
  }
  await caughtUp(b, `d/blk/n/${encodeURIComponent('10.53.0.0/26')}`, false);
  const next = await allocate(b);
  assert.equal(next, '10.53.0.2', 'b claims the block again and skips the reserved address');
  assert.equal(mine, '10.53.0.1');
  assert.equal((await blocks(prefix)).get('10.53.0.0/26'), b.controllerId);
});

test('controllers whose blocks fill at the same pace claim different blocks: no claim lost to another', async () => {
  const { prefix, stores } = await controllers(3, '10.54.0.0/16');
  // One block each, one at a time, each controller seeing every block.
  for (const s of stores) {
    await allocate(s);
    for (const block of (await blocks(prefix)).keys())
      for (const o of stores) await caughtUp(o, `d/blk/n/${encodeURIComponent(block)}`);
  }
  const lost = (kind: string) => stores.reduce((sum, s) => sum + (s.stats.lostOn[kind] ?? 0), 0);
  const before = { blk: lost('d/blk'), addr: lost('d/addr') };
  // 200 each at once: every controller fills its block and claims three more, all at the same moments.
  const got = await Promise.all(Array.from({ length: 600 }, (_, i) => allocate(stores[i % 3]!)));
  assert.equal(new Set(got).size, got.length, 'no address twice');
  assert.equal(lost('d/blk'), before.blk, 'no claim lost to another controller');
  assert.equal(lost('d/addr'), before.addr, 'no address lost to another controller');
  const held = await blocks(prefix);
  for (const s of stores) {
    const n = [...held.values()].filter((who) => who === s.controllerId).length;
    assert.ok(n >= 4, `each controller holds its own blocks (${n})`);
  }
});
