// Work done in the background — the controller's mesh push and its retry when the store read fails (the
// store closed, or unavailable), the agent's timed lifecycle pass when a step fails — ends in its caller's
// error or a log line, never in an unhandled rejection, which would end the process. Found in CI: a push
// running while the test's store had closed.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '../../common/logger.js';
import { addHost } from '../../controller/fleet/hosts.js';
import { MeshPusher, type MeshLinkFactory } from '../../controller/mesh/push.js';
import { RecordStore } from '../../agent/attach/records.js';
import type { ContainerInfo } from '../../agent/containers/types.js';
import { Lifecycle } from '../../agent/lifecycle/lifecycle.js';
import { tempStore } from '../helpers/controller-store.js';
import { attachmentRecord } from '../helpers/records.js';

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

test("the agent's timed lifecycle pass that fails is logged and tried again, not left unhandled", async (t) => {
  const seen = unhandled(t);
  const dir = mkdtempSync(join(tmpdir(), 'fleetnet-lc-bg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const records = new RecordStore(dir);
  const c: ContainerInfo = { runtime: 'netns', id: 'n1', name: 'n1', pid: 0, netns: '/run/netns/n1', nsKey: '1:1' };
  records.put({ ...attachmentRecord(c), kind: 'ovs', hostIf: 'ovs-blue' });
  let asked = 0;
  const ovs = {
    datapathProblem: async () => {
      asked++;
      throw new Error('ovsdb-server does not answer');
    },
  };
  const warned: string[] = [];
  const log = silentLogger();
  log.warn = ((_o: unknown, msg: string) => void warned.push(msg)) as typeof log.warn;
  const lc = new Lifecycle({
    attacher: {} as never,
    records,
    docker: () => undefined,
    log,
    resolver: { resolve: async () => c },
    fullPassMs: 20,
    orphans: { runner: {} as never, ovs: ovs as never, ownerMark: 'x', privateOvs: true },
  });
  lc.start();
  t.after(() => lc.stop());
  await sleep(150);
  assert.ok(asked >= 2, `passes ran again after the failure (${asked})`);
  assert.ok(warned.includes('lifecycle pass failed; the next one tries again'), warned.join('; '));
  assert.deepEqual(seen, []);
});
