// What a commit without an answer tells its callers (controller/store/etcd/request-fence.ts). One the
// etcd client held back, its circuit breaker open for every member, was never sent: the callers hear
// "nothing was sent", not "may still take effect". The etcd here is a closed port: nothing answers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../common/logger.js';
import { FleetnetError } from '../../common/errors.js';
import { etcdClient } from '../../controller/store/etcd/connect.js';
import { RequestFences } from '../../controller/store/etcd/request-fence.js';

const URLS = ['http://127.0.0.1:1'];
const KEY = Buffer.from('/fleetnet/r/test/1');
/** cockatiel's BrokenCircuitError, as etcd3 passes it on. */
const heldBack = (e: unknown) => (e as { isBrokenCircuitError?: boolean }).isBrokenCircuitError === true;

/** The error of a transaction on a client that cannot reach etcd, once its breaker is (or is not yet) open. */
async function txnError(client: ReturnType<typeof etcdClient>, wantHeldBack: boolean): Promise<unknown> {
  for (let i = 0; i < 10; i++) {
    const err = await client.kv.txn({ compare: [], success: [], failure: [] }).then(
      () => assert.fail('nothing listens on port 1'),
      (e: unknown) => e,
    );
    if (heldBack(err) === wantHeldBack) return err;
  }
  return assert.fail(`no ${wantHeldBack ? 'held-back' : 'sent'} call in 10 tries`);
}

test('a commit held back by the etcd client (circuit breaker open) was never sent: "nothing was sent"', async (t) => {
  const client = etcdClient({ urls: URLS, callTimeoutMs: 500 });
  const fences = new RequestFences(client, URLS, silentLogger(), 60_000);
  t.after(() => (fences.close(), client.close()));
  const err = await txnError(client, true);
  await assert.rejects(fences.settle(KEY, err), (e: unknown) => {
    assert.ok(e instanceof FleetnetError && e.kind === 'unavailable');
    assert.match(e.message, /is not asked: .*circuit breaker open\); nothing was sent, so nothing was changed$/);
    assert.doesNotMatch(e.message, /may still take effect/);
    assert.match(e.hint ?? '', /send the same request again/);
    return true;
  });
  assert.equal(fences.inDoubt, 0, 'nothing to fence in the background');
});

test('a commit that was sent and got no answer, its fence unanswered too: "may still take effect"', async (t) => {
  const client = etcdClient({ urls: URLS, callTimeoutMs: 500 });
  const fences = new RequestFences(client, URLS, silentLogger(), 60_000);
  t.after(() => (fences.close(), client.close()));
  const err = await txnError(client, false);
  await assert.rejects(fences.settle(KEY, err), /did not answer: .*may still take effect when etcd has a quorum/);
  assert.equal(fences.inDoubt, 1, 'the fence is retried in the background');
});
