// The etcd store's mirror watch (controller/store/etcd/mirror-feed.ts) resumes by itself: after
// the member it watched dies (each member killed in turn, so one of them was it), after etcd lost
// its quorum, and after etcd compacted away the revision it would resume from (it reads everything
// again: a key deleted meanwhile is gone from the mirror too), and when what it missed is one message of
// many megabytes.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { silentLogger } from '../../common/logger.js';
import { EtcdStore } from '../../controller/store/etcd/etcd-store.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';

const prefix = `/fleetnet-watch-${process.pid}/`;
const open: { close(): void }[] = [];
const clusters: TestEtcd[] = [];

after(async () => {
  for (const o of open) o.close();
  for (const e of clusters) await e.stop();
});

async function seen(s: EtcdStore, key: string, present = true): Promise<boolean> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (Boolean(s.mirror.get(key)) === present) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

test('the watch resumes after the member it watched dies, and after etcd lost its quorum', async () => {
  const e = await startTestEtcd(3);
  clusters.push(e);
  const s = await EtcdStore.open({ urls: e.urls, prefix, log: silentLogger() });
  open.push(s);
  for (const i of [0, 1, 2]) {
    await e.kill(i);
    const c = new Etcd3({ hosts: e.urls.filter((_, j) => j !== i) });
    await c.put(`${prefix}d/hosts/k${i}`).value('{}');
    c.close();
    assert.ok(await seen(s, `d/hosts/k${i}`), `a change made while member ${i} was down reaches the mirror`);
    await e.restart(i);
  }
  await e.kill(0);
  await e.kill(1);
  await e.restart(0);
  await e.restart(1);
  const c = new Etcd3({ hosts: e.urls });
  open.push(c);
  await c.put(`${prefix}d/hosts/after-quorum`).value('{}');
  assert.ok(await seen(s, 'd/hosts/after-quorum'), 'a change made after the quorum returned reaches the mirror');
  assert.ok(await s.read(() => true), 'reads are served again');
});

/** A store that knows member 0 only, and a client of the others: they change etcd while member 0 is down. */
async function storeOnMemberZero(): Promise<{ e: TestEtcd; s: EtcdStore; c: Etcd3 }> {
  const e = await startTestEtcd(3);
  clusters.push(e);
  const s = await EtcdStore.open({ urls: [e.urls[0]!], prefix, log: silentLogger() });
  open.push(s);
  const c = new Etcd3({ hosts: e.urls.slice(1) });
  open.push(c);
  return { e, s, c };
}

test('a watch whose revision was compacted away reads everything again', async () => {
  // While member 0 is down, the others change and compact what the store would resume from.
  const { e, s, c } = await storeOnMemberZero();
  await c.put(`${prefix}d/hosts/old`).value('{}');
  assert.ok(await seen(s, 'd/hosts/old'));
  await e.kill(0);
  await c.delete().key(`${prefix}d/hosts/old`);
  await c.put(`${prefix}d/hosts/new`).value('{}');
  for (let i = 0; i < 5; i++) await c.put(`${prefix}other/${i}`).value('x');
  const rev = (await c.get(`${prefix}other/4`).exec()).header.revision;
  await c.kv.compact({ revision: rev, physical: true });
  await e.restart(0);
  assert.ok(await seen(s, 'd/hosts/new'), 'a change made while its member was down reaches the mirror');
  assert.ok(await seen(s, 'd/hosts/old', false), 'the key deleted meanwhile is gone from the mirror');
  await c.put(`${prefix}d/hosts/later`).value('{}');
  assert.ok(await seen(s, 'd/hosts/later'), 'the new watch delivers what comes next');
});

test(
  'a watch that catches up on more than 4 MiB of changes gets them all ' + '(one etcd message, over the gRPC default)',
  async () => {
    const { e, s, c } = await storeOnMemberZero();
    await e.kill(0);
    // 40 revisions of 200 kB: etcd sends a watcher that is behind up to 1,000 revisions in one message.
    const big = 'x'.repeat(200_000);
    for (let i = 0; i < 40; i++) await c.put(`${prefix}d/hosts/big${i}`).value(big);
    await e.restart(0);
    assert.ok(await seen(s, 'd/hosts/big39'), 'the last change made while its member was down reaches the mirror');
    for (let i = 0; i < 40; i++) assert.equal(s.mirror.get(`d/hosts/big${i}`)?.v.length, big.length, `big${i}`);
    await c.put(`${prefix}d/hosts/after-big`).value('{}');
    assert.ok(await seen(s, 'd/hosts/after-big'), 'the watch goes on after the big message');
  },
);

test('an etcd frozen with its connection open: the watch is known down, reads refused', async () => {
  // A partition that drops packets leaves TCP looking open, as a frozen member does: only keepalive pings notice.
  const e = await startTestEtcd(1);
  clusters.push(e);
  const s = await EtcdStore.open({ urls: e.urls, prefix, log: silentLogger() });
  open.push(s);
  assert.ok(await s.read(() => true));
  const pid = e.procs[0]!.pid!;
  process.kill(pid, 'SIGSTOP');
  try {
    let refused: unknown;
    for (const deadline = Date.now() + 60_000; !refused && Date.now() < deadline;) {
      await s
        .read(() => true)
        .then(
          () => new Promise((r) => setTimeout(r, 500)),
          (err: unknown) => (refused = err),
        );
    }
    assert.match(String((refused as Error | undefined)?.message), /store unavailable/, 'reads refused, not stale');
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  let back = false;
  for (const deadline = Date.now() + 60_000; !back && Date.now() < deadline;) {
    back = await s.read(() => true).catch(() => false);
    if (!back) await new Promise((r) => setTimeout(r, 500));
  }
  assert.ok(back, 'reads are served again once etcd answers');
});
