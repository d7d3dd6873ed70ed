// Dispatch with several controllers on etcd (issue 13): what another controller changed reaches a
// host's owner as the change it is. An attachment made elsewhere bumps its host's generation too;
// that counter alone asks for no full pass of the host (the attachment's own change is carried by a
// targeted pass), while a change of what the host is does. A controller's claim rounds keep running
// while host records keep changing, so a stopped controller's hosts are taken over meanwhile.
// `fleetnet hosts` names the controller that dispatches to each host.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { silentLogger } from '../../common/logger.js';
import { ExecRunner } from '../../common/runner.js';
import type { AgentLinkFactory } from '../../controller/dispatch/agent-link.js';
import { decideAttach } from '../../controller/fleet/attachments.js';
import { addHost } from '../../controller/fleet/hosts.js';
import { createNetwork } from '../../controller/fleet/networks.js';
import { startController, type ControllerHandle } from '../../controller/main.js';
import { releaseHoldings } from '../../controller/mac/allocate.js';
import { EtcdStore } from '../../controller/store/etcd/etcd-store.js';
import type { RemoteChange, Tx } from '../../controller/store/store.js';
import { fakeFleet } from '../helpers/controller-fake-agent.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { etcdControllerConfig, hostOwners, waitUntil } from '../helpers/ha-fleet.js';

let etcd: TestEtcd;
let seq = 0;
const ctls: ControllerHandle[] = [];
const stores: EtcdStore[] = [];

before(async () => {
  etcd = await startTestEtcd(1);
});

after(async () => {
  for (const c of ctls) await c.stop().catch(() => undefined);
  for (const s of stores) s.close();
  await etcd?.stop();
});

/** A controller on `prefix` whose agents count the List calls (full passes) per host. */
async function startOne(prefix: string, lists: Map<string, number>): Promise<ControllerHandle> {
  const fleet = fakeFleet();
  const links: AgentLinkFactory = (addr, host) => {
    const link = fleet.links(addr, host);
    return {
      ...link,
      list: (timeoutMs) => {
        lists.set(host, (lists.get(host) ?? 0) + 1);
        return link.list(timeoutMs);
      },
    };
  };
  // No periodic full pass within the test: each one comes from a change.
  const cfg = etcdControllerConfig(etcd.urls, prefix, 600_000);
  const h = await startController(cfg, silentLogger(), { links });
  ctls.push(h);
  return h;
}

const idOf = (h: ControllerHandle) => (h.store as EtcdStore).controllerId;

const owners = (prefix: string) => hostOwners(etcd.urls, prefix);
const waitFor = waitUntil;

const attach = (host: string, value: string) => (tx: Tx) =>
  decideAttach(
    tx,
    { host, net: 'n', target: { kind: 'auto', value }, ifname: 'eth1', addresses: [], mac: { kind: 'auto' } },
    Date.now(),
  );

test('a change made through another controller reaches this one as what it is', async () => {
  const prefix = `/fleetnet-remote-${process.pid}-${++seq}/`;
  const [a, b] = await Promise.all([0, 1].map(() => EtcdStore.open({ urls: etcd.urls, prefix, log: silentLogger() })));
  stores.push(a!, b!);
  const seen: RemoteChange[] = [];
  b!.onRemoteChange((c) => seen.push(c));
  const until = (what: string, f: (c: RemoteChange) => boolean) => waitFor(what, () => seen.some(f));
  await a!.transact((tx) => {
    addHost(tx, { name: 'h1', agentAddr: '10.97.0.1:7441' }, 0);
    createNetwork(tx, { name: 'n', subnets: ['10.22.0.0/16'], kind: 'bridge', bridge: 'br-n' }, 0);
  });
  await until('the new host', (c) => c.kind === 'host' && c.name === 'h1');
  assert.ok(!seen.find((c) => c.kind === 'host')!.countersOnly, 'a new host is more than its counters');

  seen.length = 0;
  const made = await a!.transact(attach('h1', 'c1'));
  await until('the attachment', (c) => c.kind === 'attachment');
  await until('its host', (c) => c.kind === 'host');
  assert.deepEqual(
    seen.find((c) => c.kind === 'attachment'),
    { kind: 'attachment', name: made.attachment.id, host: 'h1' },
  );
  assert.deepEqual(
    seen.find((c) => c.kind === 'host'),
    { kind: 'host', name: 'h1', host: 'h1', countersOnly: true },
  );

  // A pass's bookkeeping: counters only. What the host is (its state, its agent's address): more.
  for (const [patch, counters] of [
    [{ lastSeenMs: 5, observedGeneration: 1 }, true],
    [{ state: 'unreachable' as const }, false],
    [{ agentAddr: '10.97.0.9:7441' }, false],
  ] as const) {
    seen.length = 0;
    await a!.transact((tx) => tx.putHost({ ...tx.getHost('h1')!, ...patch }));
    await until(`the host change ${JSON.stringify(patch)}`, (c) => c.kind === 'host');
    assert.equal(seen.find((c) => c.kind === 'host')!.countersOnly === true, counters, JSON.stringify(patch));
  }

  // Removed: the host it was on comes with it.
  seen.length = 0;
  await a!.transact((tx) => {
    releaseHoldings(tx, tx.getAttachment(made.attachment.id)!);
    tx.deleteAttachment(made.attachment.id);
  });
  await until('the removal', (c) => c.kind === 'attachment');
  assert.deepEqual(
    seen.find((c) => c.kind === 'attachment'),
    { kind: 'attachment', name: made.attachment.id, host: 'h1', gone: true },
  );
});

test("attachments made through another controller reach the owner's agent without a full pass each", async () => {
  const prefix = `/fleetnet-dispatch-${process.pid}-${++seq}/`;
  const lists = new Map<string, number>();
  const x = await startOne(prefix, lists);
  const y = await startOne(prefix, lists);
  await x.store.transact((tx) => {
    addHost(tx, { name: 'h1', agentAddr: '10.97.1.1:7441' }, 0);
    addHost(tx, { name: 'h2', agentAddr: '10.97.1.2:7441' }, 0);
    createNetwork(tx, { name: 'n', subnets: ['10.23.0.0/16'], kind: 'bridge', bridge: 'br-n' }, 0);
  });
  await waitFor('each controller owns one host, which is up', async () => {
    const o = await owners(prefix);
    const up = await x.store.read((tx) => tx.listHosts().every((h) => h.state === 'up'));
    return Object.keys(o).length === 2 && new Set(Object.values(o)).size === 2 && up;
  });
  const o = await owners(prefix);
  const ofY = Object.keys(o).find((h) => o[h] === idOf(y))!;
  const before = lists.get(ofY) ?? 0;
  // Through x, for y's host: y hears of each through its watch, as an attachment and a new generation.
  const ids: string[] = [];
  for (let i = 0; i < 10; i++) ids.push((await x.store.transact(attach(ofY, `c${i}`))).attachment.id);
  await waitFor('every attachment up on its agent', () =>
    y.store.read((tx) => ids.every((id) => tx.getAttachment(id)?.state === 'up')),
  );
  assert.equal(lists.get(ofY) ?? 0, before, 'no full pass (agent List) for a generation that moved elsewhere');
  // What the host is changed elsewhere: its owner runs a full pass.
  await x.store.transact((tx) => tx.putHost({ ...tx.getHost(ofY)!, state: 'unknown' }));
  await waitFor('a full pass of the changed host', () => (lists.get(ofY) ?? 0) > before);
});

test("a stopped controller's hosts are taken over while host records keep changing", async () => {
  const prefix = `/fleetnet-takeover-${process.pid}-${++seq}/`;
  const lists = new Map<string, number>();
  const x = await startOne(prefix, lists);
  const y = await startOne(prefix, lists);
  const hosts = ['h1', 'h2', 'h3', 'h4'];
  await y.store.transact((tx) => {
    hosts.forEach((h, i) => addHost(tx, { name: h, agentAddr: `10.97.2.${i + 1}:7441` }, 0));
    createNetwork(tx, { name: 'n', subnets: ['10.24.0.0/16'], kind: 'bridge', bridge: 'br-n' }, 0);
  });
  await waitFor('two hosts each', async () => {
    const o = Object.values(await owners(prefix));
    return o.length === 4 && o.filter((c) => c === idOf(x)).length === 2;
  });
  // Host records keep changing meanwhile (their generations, as attachments made elsewhere bump
  // them): written straight into etcd, several at a time, so a change reaches y every few ms.
  const c = new Etcd3({ hosts: etcd.urls });
  const records = await x.store.read((tx) => tx.listHosts());
  let stop = false;
  let made = 0;
  const churn = Promise.all(
    records.map(async (h) => {
      while (!stop) {
        h.generation++;
        made++;
        await c.put(`${prefix}d/hosts/${h.name}`).value(JSON.stringify(h));
      }
    }),
  );
  try {
    await x.stop();
    ctls.splice(ctls.indexOf(x), 1);
    await waitFor("x's hosts owned by y", async () => {
      const o = await owners(prefix);
      return hosts.every((h) => o[h] === idOf(y));
    });
  } finally {
    stop = true;
    await churn;
    c.close();
  }
  assert.ok(made > 0, 'host records changed meanwhile');
});

test('fleetnet hosts names the controller that dispatches to each host (table and --json)', async () => {
  const prefix = `/fleetnet-hosts-${process.pid}-${++seq}/`;
  const x = await startOne(prefix, new Map());
  const y = await startOne(prefix, new Map());
  await x.store.transact((tx) => {
    addHost(tx, { name: 'h1', agentAddr: '10.97.3.1:7441' }, 0);
    addHost(tx, { name: 'h2', agentAddr: '10.97.3.2:7441' }, 0);
  });
  await waitFor('each controller owns one host', async () => new Set(Object.values(await owners(prefix))).size === 2);
  const o = await owners(prefix);
  const env = { ...process.env, FLEETNET_CONTROLLER: '', FLEETNET_INSECURE: '1', HOME: '/nonexistent' };
  const cli = (...a: string[]) =>
    new ExecRunner().run(process.execPath, ['--import', 'tsx', 'cli/main.ts', '--controller', y.listen, ...a], { env });
  const json = JSON.parse((await cli('hosts', '--json')).stdout) as { name: string; controller?: string }[];
  assert.deepEqual(Object.fromEntries(json.map((h) => [h.name, h.controller])), o);
  assert.deepEqual(new Set(Object.values(o)), new Set([idOf(x), idOf(y)]));
  const [head, ...rows] = (await cli('hosts')).stdout.trimEnd().split('\n');
  assert.match(head!, /\bSTATE +CONTROLLER +SEEN\b/);
  for (const h of ['h1', 'h2']) assert.ok(rows.find((r) => r.startsWith(`${h} `))?.includes(o[h]!), `${h}'s row`);
});
