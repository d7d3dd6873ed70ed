// The agent refusing a fleet attach as bad input ('ul0' is a veth, not a Linux bridge): its hint is written for
// a local attach ("drop --kind"), which the fleet's user never gave. The controller says the network's host
// interface and the ways out instead, and retries a minute later, not after 1 s (no early retry mends it).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { invalid } from '../../common/errors.js';
import { silentLogger } from '../../common/logger.js';
import { convergeOne } from '../../controller/dispatch/converge.js';
import { decideAttach } from '../../controller/fleet/attachments.js';
import { addHost } from '../../controller/fleet/hosts.js';
import { createNetwork } from '../../controller/fleet/networks.js';
import { FakeAgent } from '../helpers/controller-fake-agent.js';
import { tempStore } from '../helpers/controller-store.js';

test("an attach the agent refuses as bad input: the fleet's hint, retried after a minute", async (t) => {
  const { store } = tempStore(t);
  const nowMs = 1_000_000;
  const agent = new FakeAgent();
  const refusal = invalid(
    "'ul0' exists and is a veth, not a Linux bridge",
    "drop --kind to use it as it is, or name the bridge otherwise ('ul0' is left as it is)",
  );
  agent.refuse.set('web1', refusal);
  agent.missing.add('ghost');
  const [a, ghost] = await store.transact((tx) => {
    addHost(tx, { name: 'h1', agentAddr: '10.99.0.11' }, 0);
    createNetwork(tx, { name: 'nb', subnets: ['10.74.0.0/24'], kind: 'bridge', bridge: 'ul0' }, 0);
    const at = (value: string, ifname: string) =>
      decideAttach(
        tx,
        { host: 'h1', net: 'nb', target: { kind: 'auto', value }, ifname, addresses: [], mac: { kind: 'auto' } },
        0,
      ).attachment;
    return [at('web1', 'eth2'), at('ghost', 'eth1')];
  });
  const c = { store, log: silentLogger(), now: () => nowMs, attachTimeoutMs: 1000, settled: () => {}, tell: () => {} };
  await convergeOne(c, a, undefined, agent.link());
  await convergeOne(c, ghost, undefined, agent.link());
  const [got, other] = await store.read((tx) => [tx.getAttachment(a.id)!, tx.getAttachment(ghost.id)!]);
  assert.equal(got.state, 'failed');
  assert.equal(
    got.error,
    "'ul0' exists and is a veth, not a Linux bridge\n  hint: network nb uses 'ul0' on h1: remove or rename 'ul0' " +
      'there (the attach is tried again every minute), or drop the attachment (fleetnet detach --host h1 web1 ' +
      '-i eth2) and give the network another one (fleetnet net rm nb, then fleetnet net create nb --bridge NAME …)',
  );
  assert.doesNotMatch(got.error, /--kind/);
  assert.equal(got.nextRetryMs, nowMs + 60_000, 'retried at the longest backoff at once');
  // Any other error keeps the agent's words and the backoff from 1 s.
  assert.equal(other.state, 'failed');
  assert.match(other.error, /no container named ghost/);
  assert.equal(other.nextRetryMs, nowMs + 1000);
});
