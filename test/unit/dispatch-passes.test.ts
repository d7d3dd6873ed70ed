// What a dispatcher pass costs when little or nothing changed (issue 13: 100k attachments on etcd):
// a full pass over a host whose agent has everything sends it nothing and writes nothing (its last
// contact at most every seenEveryMs); after a pass that had nothing to do, the next one reads no
// attachment record unless the store or the agent's report changed; labelled containers already
// attached cost no transaction; a change on one host is carried by a pass of that host only. Runs
// on SQLite here and on etcd from test/privileged/store-on-etcd.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../common/logger.js';
import { Dispatcher } from '../../controller/dispatch/dispatcher.js';
import { attachmentIdOf, decideAttach, decideDetach } from '../../controller/fleet/attachments.js';
import { addHost } from '../../controller/fleet/hosts.js';
import { createNetwork } from '../../controller/fleet/networks.js';
import type { Store, Tx } from '../../controller/store/store.js';
import type { AttachmentFilter } from '../../controller/store/types.js';
import { fakeFleet } from '../helpers/controller-fake-agent.js';
import { tempStore } from '../helpers/controller-store.js';

const N = 40;

/** The store, counting the transactions asked of it, and the lists of attachments read outside them. */
class CountingStore implements Store {
  transactions = 0;
  lists = 0;
  readonly description = 'counting';
  constructor(private readonly s: Store) {}
  transact<T>(fn: (tx: Tx) => T): Promise<T> {
    this.transactions++;
    return this.s.transact(fn);
  }
  read<T>(fn: (tx: Tx) => T): Promise<T> {
    return this.s.read((tx) =>
      fn(
        Object.assign(Object.create(tx) as Tx, {
          listAttachments: (f?: AttachmentFilter) => (this.lists++, tx.listAttachments(f)),
        }),
      ),
    );
  }
  attachmentsVersion(host: string): number | undefined {
    return this.s.attachmentsVersion?.(host);
  }
  attachmentsJson(f?: AttachmentFilter): Promise<string> {
    return this.s.attachmentsJson(f);
  }
  close(): void {}
}

async function setup(t: Parameters<typeof tempStore>[0]) {
  const store = new CountingStore(tempStore(t).store);
  await store.transact((tx) => {
    for (const h of ['h1', 'h2']) addHost(tx, { name: h, agentAddr: `10.99.0.${h === 'h1' ? 11 : 12}` }, 0);
    createNetwork(tx, { name: 'blue', subnets: ['10.1.0.0/16'], kind: 'bridge', bridge: 'br1' }, 0);
    for (const h of ['h1', 'h2'])
      for (let i = 0; i < N; i++) {
        const target = { kind: 'netns' as const, value: `c${i}` };
        decideAttach(tx, { host: h, net: 'blue', target, ifname: 'eth1', addresses: [], mac: { kind: 'auto' } }, 0);
      }
  });
  const fleet = fakeFleet();
  let nowMs = 1_000_000;
  const passes: string[] = [];
  const d = new Dispatcher({
    store,
    log: silentLogger(),
    links: fleet.links,
    resyncMs: 3_600_000, // passes run when the test asks
    backoffMinMs: 20,
    backoffMaxMs: 100,
    listTimeoutMs: 1000,
    attachTimeoutMs: 1000,
    parallel: 8,
    now: () => nowMs,
    seenEveryMs: 60_000,
    observer: { passDone: (host) => passes.push(host) },
  });
  t.after(() => d.stop());
  const agent = (h: string) => fleet.agents.get(`10.99.0.${h === 'h1' ? 11 : 12}:7441`)!;
  const host = (h: string) => store.read((tx) => tx.getHost(h)!);
  const clock = (ms: number) => (nowMs += ms);
  /** A full pass as the resync timer runs it (passNow compares every record). */
  const fullPass = (h: string) =>
    new Promise<void>((resolve) => {
      const n = passes.filter((x) => x === h).length;
      const poll = () => (passes.filter((x) => x === h).length > n ? resolve() : setTimeout(poll, 5));
      d.kick(h);
      poll();
    });
  for (const h of ['h1', 'h2']) await d.passNow(h);
  return { store, d, agent, host, clock, passes, fullPass };
}

test('a full pass over a host whose agent has every attachment sends it nothing and writes nothing', async (t) => {
  const { store, d, agent, host, passes } = await setup(t);
  assert.equal(agent('h1').made.size, N, 'the first pass made every attachment');
  assert.equal((await host('h1')).state, 'up');
  const sent = agent('h1').log.length;
  const seen = (await host('h1')).lastSeenMs;
  store.transactions = 0;
  passes.length = 0;
  await d.passNow('h1');
  await d.passNow('h1');
  assert.deepEqual(passes, ['h1', 'h1'], 'two full passes ran');
  assert.equal(agent('h1').log.length, sent, 'no attach or detach sent');
  assert.equal(store.transactions, 0, 'no store transaction');
  assert.equal((await host('h1')).lastSeenMs, seen);
});

test("a host's last contact is written again once seenEveryMs has passed", async (t) => {
  const { store, d, host, clock } = await setup(t);
  const seen = (await host('h1')).lastSeenMs;
  clock(59_000);
  store.transactions = 0;
  await d.passNow('h1');
  assert.equal(store.transactions, 0, 'within a minute: nothing written');
  clock(2_000);
  await d.passNow('h1');
  assert.equal(store.transactions, 1, 'the host record, once');
  assert.equal((await host('h1')).lastSeenMs, seen + 61_000);
});

test('a change on one host is carried by a pass of that host only, and only for that attachment', async (t) => {
  const { store, d, agent, passes } = await setup(t);
  const sent = { h1: agent('h1').log.length, h2: agent('h2').log.length };
  passes.length = 0;
  const id = attachmentIdOf('h1', { kind: 'netns', value: 'c7' }, 'eth1');
  await store.transact((tx) => decideDetach(tx, { id }, 0));
  d.kick('h1', { id });
  const a = await d.waitSettled(id, 10_000);
  assert.equal(a, undefined, 'detached and gone');
  assert.deepEqual(agent('h1').log.slice(sent.h1), [`detach ${id}`], 'h1 got that one detach');
  assert.equal(agent('h2').log.length, sent.h2, 'h2 was sent nothing');
  assert.deepEqual(passes, [], 'no full pass of either host');
  assert.equal(agent('h1').made.size, N - 1);
});

test('labelled containers already attached cost no transaction; a new one is made in the same pass', async (t) => {
  const { store, d, agent } = await setup(t);
  const labelled = (id: string) => ({
    id,
    name: id,
    attach: [{ ifname: 'eth1', network: 'blue', addresses: [] }],
    errors: [],
  });
  agent('h1').labelled = [labelled('lab1')];
  await d.passNow('h1');
  assert.ok(agent('h1').made.has(attachmentIdOf('h1', { kind: 'docker', value: 'lab1' }, 'eth1')), 'made from labels');
  store.transactions = 0;
  await d.passNow('h1');
  assert.equal(store.transactions, 0, 'its labels asked for nothing new');
  agent('h1').labelled.push(labelled('lab2'));
  await d.passNow('h1');
  assert.ok(agent('h1').made.has(attachmentIdOf('h1', { kind: 'docker', value: 'lab2' }, 'eth1')), 'the new one too');
});

test(
  'after a pass with nothing to do, the next reads no record; ' + 'a change in the store or on the agent is seen',
  async (t) => {
    const { store, agent, fullPass } = await setup(t);
    await fullPass('h1'); // finds nothing to do
    store.lists = 0;
    await fullPass('h1');
    await fullPass('h1');
    assert.equal(store.lists, 0, 'nothing changed since the quiet pass: no record read');
    // The store changed (a detach recorded, its host not kicked for it): the next full pass carries it.
    const id = attachmentIdOf('h1', { kind: 'netns', value: 'c3' }, 'eth1');
    await store.transact((tx) => decideDetach(tx, { id }, 0));
    await fullPass('h1');
    assert.ok(agent('h1').log.includes(`detach ${id}`), 'the detach was sent');
    assert.ok(store.lists > 0);
    // The agent lost an interface (no store change): the next full pass makes it again.
    const other = attachmentIdOf('h1', { kind: 'netns', value: 'c5' }, 'eth1');
    await fullPass('h1');
    store.lists = 0;
    agent('h1').made.delete(other);
    const before = agent('h1').log.length;
    await fullPass('h1');
    assert.deepEqual(agent('h1').log.slice(before), [`attach ${other} c5`], 'made again');
    assert.ok(store.lists > 0, 'compared record by record');
  },
);
