// The lifecycle's orphan sweep stands on the mesh's OVSDB watch: while the watch (a fake `ovsdb-client monitor`
// here) shows no interface added or removed, the tagged-port list (`ovs-vsctl find port`) is read once and used
// again, up to OWNED_PORT_PASSES_BETWEEN_READS passes in a row; a port made or deleted, the watch restarting, or no
// live watch at all brings the read back. Records changing are compared at every pass, list re-used or not.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, test } from 'node:test';
import { silentLogger } from '../../common/logger.js';
import { planMesh } from '../../common/mesh/plan.js';
import { FakeRunner, type RecordedCall } from '../../common/runner.js';
import { agentConfig } from '../../agent/config.js';
import { startAgent } from '../../agent/main.js';
import { BfdWatch } from '../../agent/mesh/bfd-watch.js';
import {
  findOrphans,
  OWNED_PORT_PASSES_BETWEEN_READS,
  WatchedOwnedPorts,
  type OrphanDeps,
} from '../../agent/lifecycle/orphans.js';
import { RecordStore } from '../../agent/attach/records.js';
import { OvsCtl, type OwnedPort } from '../../agent/ovs/vsctl.js';
import { attachmentRecord } from '../helpers/records.js';

const dir = mkdtempSync(join(tmpdir(), 'fleetnet-orphan-watch-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const HEADINGS = ['row', 'action', 'name', 'bfd_status'];
const monitorLine = (data: unknown[][]) => `${JSON.stringify({ data, headings: HEADINGS })}\n`;
const noBfd = ['map', []];

/** A fake monitor child the test writes to, and a FakeRunner whose start() hands it out. */
function fakeMonitor(answer: (c: RecordedCall) => { stdout?: string } | undefined = () => undefined) {
  let out = new PassThrough();
  let child: EventEmitter | undefined;
  const r = new FakeRunner(answer);
  r.start = (cmd, args) => {
    r.calls.push({ cmd, args: [...args] });
    out = new PassThrough();
    child = Object.assign(new EventEmitter(), { stdout: out, stderr: new PassThrough(), kill: () => true });
    return child as unknown as ChildProcess;
  };
  return {
    r,
    write: (data: unknown[][]) => out.write(monitorLine(data)),
    /** The monitor dies (ovsdb-server restarted). */
    die: () => child?.emit('close', 1, null),
    seen: () => new Promise((resolve) => setImmediate(resolve)),
  };
}

/** `ovs-vsctl --format=json --columns=name,external_ids find port …` listing these tagged ports. */
const findOutput = (ports: { port: string; attachment: string }[]) =>
  JSON.stringify({
    headings: ['name', 'external_ids'],
    data: ports.map((p) => [p.port, ['map', [['fleetnet-attachment', p.attachment]]]]),
  });
const isFind = (c: RecordedCall) => c.cmd === 'ovs-vsctl' && c.args.includes('find') && c.args.includes('port');

test('the interfaces version moves as rows come and go or the watch restarts; not on BFD nor own ports', async () => {
  const f = fakeMonitor();
  const w = new BfdWatch({ runner: f.r, log: silentLogger(), retryFirstMs: 1, ownPort: (n) => n === 'fgtunnel' });
  assert.equal(w.interfacesVersion(), undefined, 'not started: not live');
  w.start();
  await f.seen();
  assert.equal(w.interfacesVersion(), undefined, 'before its first table: not live');
  f.write([['u1', 'initial', 'fg1', noBfd]]);
  await f.seen();
  const v0 = w.interfacesVersion();
  assert.notEqual(v0, undefined);
  f.write([
    ['u1', 'old', null, noBfd],
    ['', 'new', 'fg1', ['map', [['state', 'up']]]],
  ]);
  await f.seen();
  assert.equal(w.interfacesVersion(), v0, 'a BFD change is not a port made or deleted');
  f.write([['u3', 'insert', 'fgtunnel', noBfd]]);
  await f.seen();
  assert.equal(w.interfacesVersion(), v0, 'a tunnel port of the mesh (ownPort) made');
  f.write([['u3', 'delete', 'fgtunnel', noBfd]]);
  await f.seen();
  assert.equal(w.interfacesVersion(), v0, 'and deleted');
  f.write([['u2', 'insert', 'fn0123456789ab', noBfd]]);
  await f.seen();
  const v1 = w.interfacesVersion();
  assert.notEqual(v1, v0, 'an interface added');
  f.write([['u2', 'delete', 'fn0123456789ab', noBfd]]);
  await f.seen();
  const v2 = w.interfacesVersion();
  assert.notEqual(v2, v1, 'an interface removed');
  f.die();
  assert.equal(w.interfacesVersion(), undefined, 'the watch ended: not live');
  await new Promise((r) => setTimeout(r, 20)); // its retry starts the monitor again
  f.write([['u1', 'initial', 'fg1', noBfd]]);
  await f.seen();
  assert.notEqual(w.interfacesVersion(), undefined);
  assert.notEqual(w.interfacesVersion(), v2, 'live again: whatever happened meanwhile counts as a change');
  w.stop();
  assert.equal(w.interfacesVersion(), undefined);
});

test('WatchedOwnedPorts: read once while the version holds (to a limit), again on a change or no watch', async () => {
  let reads = 0;
  let version: number | undefined = 1;
  const ports: OwnedPort[] = [{ port: 'fn0123456789ab', attachmentId: 'a1', container: 'c', ifname: 'eth1' }];
  const w = new WatchedOwnedPorts(
    async () => (reads++, ports),
    () => version,
  );
  for (let i = 0; i <= OWNED_PORT_PASSES_BETWEEN_READS; i++) assert.deepEqual(await w.get(), ports);
  assert.equal(reads, 1, `read once, then used again ${OWNED_PORT_PASSES_BETWEEN_READS} times`);
  await w.get();
  assert.equal(reads, 2, 'the limit reached: read again');
  version = 2;
  await w.get();
  assert.equal(reads, 3, 'an interface added or removed: read again');
  await w.get();
  assert.equal(reads, 3);
  version = undefined;
  await w.get();
  await w.get();
  assert.equal(reads, 5, 'no live watch: read every time');
  // A version that moves while the read runs: the list read is not trusted for the new version.
  version = 7;
  const moving = new WatchedOwnedPorts(
    async () => {
      reads++;
      version = 8;
      return ports;
    },
    () => version,
  );
  await moving.get();
  await moving.get();
  assert.equal(reads, 7, 'the change during the read is seen by the next pass');
});

test('orphans from a re-used port list still follow the records at every pass', async () => {
  const records = new RecordStore(mkdtempSync(join(dir, 'rec-')));
  const c = { runtime: 'docker' as const, id: 'c'.repeat(64), name: 'web', pid: 1, netns: '/x', nsKey: '1:1' };
  const rec = { ...attachmentRecord(c), hostIfname: 'fn0123456789ab' };
  records.put(rec);
  let reads = 0;
  const runner = new FakeRunner((c) => (isFind(c) ? (reads++, { stdout: findOutput([]) }) : {}));
  const watched = new WatchedOwnedPorts(
    async () => [{ port: 'fn0123456789ab', attachmentId: rec.attachmentId, container: 'c', ifname: 'eth1' }],
    () => 1,
  );
  const d: OrphanDeps = {
    runner,
    ovs: new OvsCtl(runner),
    records,
    inProgress: () => new Set(),
    removeIfUnclaimed: async (_name, remove) => (await remove(), true),
    ownerMark: 'x',
    privateOvs: true,
    sysClassNet: join(dir, 'no-sysfs'),
    ownedPorts: () => watched.get(),
    log: silentLogger(),
  };
  assert.deepEqual(await findOrphans(d), [], 'held by its record');
  records.delete(rec.key);
  const found = await findOrphans(d);
  assert.deepEqual(
    found.map((o) => [o.type, o.name]),
    [['ovs-port', 'fn0123456789ab']],
    'its record gone: an orphan at the next pass, with no read',
  );
  assert.equal(reads, 0, 'the sweep asked the watched list, not ovs-vsctl');
});

test('agent: the lifecycle pass reads tagged ports once while the watch sees no port made or deleted', async (t) => {
  const state = mkdtempSync(join(dir, 'agent-'));
  const f = fakeMonitor((c) => (isFind(c) ? { stdout: findOutput([]) } : c.cmd === 'nft' ? {} : undefined));
  const cfg = agentConfig({
    socket: join(state, 'agent.sock'),
    stateDir: state,
    ovsDb: 'unix:/run/x/db.sock',
    ipPath: 'exec',
    dockerSocket: join(state, 'no-docker.sock'),
    lifecyclePassMs: 600_000, // the passes below are the test's
    meshResyncMs: 0,
  });
  const agent = await startAgent(cfg, silentLogger(), f.r);
  t.after(() => agent.stop());
  await agent.lifecycle.fullPass(); // the start's pass, before any mesh: no watch, a read
  const hosts = [1, 2].map((i) => ({ name: `h${i}`, underlayIp: `10.99.0.${10 + i}` }));
  const net = { name: 'blue', kind: 'ovs' as const, encap: 'gre' as const, key: 100, bridge: 'ovs-blue' };
  const plan = planMesh(hosts, [{ ...net, members: ['h1', 'h2'] }])[0]!;
  await agent.mesher.apply({ generation: 1, networks: plan.networks });
  f.write(plan.networks[0]!.tunnels.map((tn, i) => [`u${i}`, 'initial', tn.port, noBfd]));
  await f.seen();
  const finds = () => f.r.calls.filter(isFind).length;
  const before = finds();
  await agent.lifecycle.fullPass();
  await agent.lifecycle.fullPass();
  assert.equal(finds() - before, 1, 'read once, then the list is used again');
  // A host joins: the mesh adds its tunnel port, never tagged for an attachment; the list still holds.
  const more = [...hosts, { name: 'h3', underlayIp: '10.99.0.13' }];
  const joined = planMesh(more, [{ ...net, members: ['h1', 'h2', 'h3'] }])[0]!;
  await agent.mesher.apply({ generation: 2, networks: joined.networks });
  f.write([['u8', 'insert', joined.networks[0]!.tunnels[1]!.port, noBfd]]);
  await f.seen();
  await agent.lifecycle.fullPass();
  assert.equal(finds() - before, 1, 'a tunnel port of the mesh is not a port the sweep looks at');
  // A port made (a container attached): the next pass reads.
  f.write([['u9', 'insert', 'fn0123456789ab', noBfd]]);
  await f.seen();
  await agent.lifecycle.fullPass();
  assert.equal(finds() - before, 2);
  for (let i = 0; i < OWNED_PORT_PASSES_BETWEEN_READS; i++) await agent.lifecycle.fullPass();
  assert.equal(finds() - before, 2, `used again ${OWNED_PORT_PASSES_BETWEEN_READS} times`);
  await agent.lifecycle.fullPass();
  assert.equal(finds() - before, 3, 'then read again');
});
