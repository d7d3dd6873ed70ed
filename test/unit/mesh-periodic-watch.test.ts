// The mesh's periodic pass stands on the BFD watch: while the watch (a fake `ovsdb-client monitor` here)
// shows every wanted port with its interface and a BFD state, the pass reads nothing, up to
// WATCHED_PASSES_BETWEEN_READS times in a row; a port gone from the watch, BFD off on one, or the limit
// reached brings back the full read (ovs-vsctl list) that repairs drift. An explicit reconcile always reads.
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
import { FakeRunner } from '../../common/runner.js';
import { Mesher, WATCHED_PASSES_BETWEEN_READS } from '../../agent/mesh/mesher.js';
import type { MeshSpec } from '../../agent/mesh/spec.js';

const dir = mkdtempSync(join(tmpdir(), 'fleetnet-mesh-periodic-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const hosts = [1, 2, 3].map((i) => ({ name: `h${i}`, underlayIp: `10.99.0.${10 + i}` }));
const nets = [
  {
    name: 'blue',
    kind: 'ovs' as const,
    encap: 'gre' as const,
    key: 100,
    bridge: 'ovs-blue',
    members: ['h1', 'h2', 'h3'],
  },
];
const spec: MeshSpec = { generation: 1, networks: planMesh(hosts, nets)[0]!.networks };
const ports = spec.networks[0]!.tunnels.map((t) => t.port);

/** `ovsdb-client --format=json monitor` output lines, as the watch reads them. */
const HEADINGS = ['row', 'action', 'name', 'bfd_status'];
const monitorLine = (data: unknown[][]) => `${JSON.stringify({ data, headings: HEADINGS })}\n`;
const bfd = (state?: string) => ['map', state ? [['state', state]] : []];

/** A Mesher whose OVS commands a FakeRunner answers and whose monitor is a fake child the test writes to. */
function setup(o: { now?: () => number } = {}) {
  const out = new PassThrough();
  const child = Object.assign(new EventEmitter(), { stdout: out, stderr: new PassThrough(), kill: () => true });
  const r = new FakeRunner();
  r.start = () => child as unknown as ChildProcess;
  const m = new Mesher({
    runner: r,
    ovsDb: 'unix:/run/x/db.sock',
    stateDir: mkdtempSync(join(dir, 'a-')),
    log: silentLogger(),
    hasGretap: async () => false,
    watchBfd: true,
    ...o,
  });
  // The full read lists bridges, ports and interfaces in one ovs-vsctl.
  const reads = () =>
    r.calls.filter((c) => c.cmd === 'ovs-vsctl' && c.args.includes('list') && c.args.includes('interface')).length;
  const seen = () => new Promise((resolve) => setImmediate(resolve)); // the watch has read what was written
  return { m, out, r, reads, seen };
}

test('the periodic pass reads nothing while the watch shows every port as planned, then reads again', async (t) => {
  const { m, out, r, reads, seen } = setup();
  t.after(() => m.stop(true));
  await m.apply(spec); // the first pass reads back and makes both ports
  out.write(monitorLine(ports.map((p, i) => [`u${i}`, 'initial', p, bfd('up')])));
  await seen();
  r.calls.length = 0;
  for (let i = 0; i < WATCHED_PASSES_BETWEEN_READS; i++) {
    const res = await m.periodicPass();
    assert.deepEqual([res.kept, res.changes, res.errors], [2, 0, []]);
  }
  assert.deepEqual(r.calls, [], 'no command while the watch stands in');
  await m.periodicPass();
  assert.equal(reads(), 1, 'the full read once the limit is reached');
  // An explicit reconcile always reads.
  await m.reconcile();
  assert.equal(reads(), 2);
});

test('a port gone from the watch, or its BFD off, brings the full read back at the next period', async (t) => {
  const { m, out, r, reads, seen } = setup();
  t.after(() => m.stop(true));
  await m.apply(spec);
  out.write(monitorLine(ports.map((p, i) => [`u${i}`, 'initial', p, bfd('up')])));
  await seen();
  r.calls.length = 0;
  await m.periodicPass();
  assert.equal(reads(), 0);
  // BFD turned off by hand on one port: its bfd_status empties.
  out.write(
    monitorLine([
      ['u0', 'old', null, bfd('up')],
      ['', 'new', ports[0], bfd()],
    ]),
  );
  await seen();
  await m.periodicPass();
  assert.equal(reads(), 1);
  // The FakeRunner's database lists no port, so that pass made both again (no longer settled): read once more.
  out.write(
    monitorLine([
      ['u0', 'old', null, bfd()],
      ['', 'new', ports[0], bfd('up')],
    ]),
  );
  await seen();
  await m.periodicPass();
  assert.equal(reads(), 1, 'the watch stands in again once every port shows a BFD state');
  // A port deleted by hand: its interface row goes from the watch.
  out.write(monitorLine([['u1', 'delete', ports[1], bfd('up')]]));
  await seen();
  await m.periodicPass();
  assert.equal(reads(), 2);
});

test('a wait for "up" builds the tunnels’ states once, when it answers, not at each change it sees', async (t) => {
  let built = 0; // tunnelStatuses stamps each state it builds with now()
  const { m, out, seen } = setup({ now: () => (built++, 0) });
  t.after(() => m.stop(true));
  await m.apply(spec);
  out.write(monitorLine(ports.map((p, i) => [`u${i}`, 'initial', p, bfd()])));
  await seen();
  const wait = m.status({ waitUpMs: 10_000 });
  const up = [
    'map',
    [
      ['forwarding', 'true'],
      ['state', 'up'],
    ],
  ];
  for (const [i, state] of [
    [0, 'down'],
    [1, 'down'],
    [0, 'init'],
    [1, 'init'],
  ] as const) {
    out.write(
      monitorLine([
        [`u${i}`, 'old', null, bfd()],
        ['', 'new', ports[i], bfd(state)],
      ]),
    );
    await seen();
  }
  out.write(
    monitorLine([
      ['u0', 'old', null, bfd('init')],
      ['', 'new', ports[0], up],
    ]),
  );
  await seen();
  assert.equal(built, 0, 'one tunnel still down: nothing built');
  out.write(
    monitorLine([
      ['u1', 'old', null, bfd('init')],
      ['', 'new', ports[1], up],
    ]),
  );
  const states = await wait;
  assert.deepEqual(
    states.map((s) => s.state),
    ['up', 'up'],
  );
  assert.equal(built, ports.length, 'each state built once');
});
