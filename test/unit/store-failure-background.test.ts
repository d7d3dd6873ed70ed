// Work the controller does in the background (a mesh push, its retry) whose store read fails — the store
// closed, or unavailable — ends in its caller's error or a log line, never in an unhandled rejection (which
// would end the controller process). Found in CI: a push running while the test's store had closed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../common/logger.js';
import { addHost } from '../../controller/fleet/hosts.js';
import { MeshPusher, type MeshLinkFactory } from '../../controller/mesh/push.js';
import { tempStore } from '../helpers/controller-store.js';

function unhandled(t: { after(fn: () => void): void }): unknown[] {
  const seen: unknown[] = [];
  const on = (reason: unknown) => seen.push(reason);
  process.on('unhandledRejection', on);
  t.after(() => process.off('unhandledRejection', on));
  return seen;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function oneHostStore(t: Parameters<typeof tempStore>[0]) {
  const { store } = tempStore(t);
  await store.transact((tx) => addHost(tx, { name: 'h1', agentAddr: '10.99.0.11:7441' }, 1));
  return store;
}

type Link = ReturnType<MeshLinkFactory>;
/** An agent's mesh side in memory whose ApplyMesh does this. */
const agentWith =
  (applyMesh: Link['applyMesh']): MeshLinkFactory =>
  () => ({
    applyMesh,
    meshStatus: async () => ({ generation: 0, tunnels: [] }),
    close: () => undefined,
  });

test('a push whose store read fails rejects to its caller, and nothing is left unhandled', async (t) => {
  const seen = unhandled(t);
  const store = await oneHostStore(t);
  const links = agentWith(async (spec) => ({
    generation: spec.generation,
    added: 0,
    removed: 0,
    kept: 0,
    changes: 0,
    errors: [],
  }));
  const pusher = new MeshPusher({ store, log: silentLogger(), links, resyncMs: 3_600_000 });
  t.after(() => pusher.stop());
  store.close();
  await assert.rejects(pusher.push(['h1']));
  await sleep(50);
  assert.deepEqual(seen, []);
});

test('a push retried after its agent failed, whose store read then fails, is logged, not left unhandled', async (t) => {
  const seen = unhandled(t);
  const store = await oneHostStore(t);
  let applies = 0;
  const links = agentWith(async () => {
    applies++;
    throw new Error('agent unreachable');
  });
  const pusher = new MeshPusher({ store, log: silentLogger(), links, resyncMs: 3_600_000, backoffMaxMs: 20 });
  t.after(() => pusher.stop());
  const [st] = await pusher.push(['h1']);
  assert.match(st!.error, /agent unreachable/);
  store.close(); // the retry (20 ms) now finds the store closed
  await sleep(150);
  assert.equal(applies, 1, 'the retry read the store and stopped there');
  assert.deepEqual(seen, []);
});
