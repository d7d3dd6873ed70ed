// The BFD watch's side of `ovsdb-client --format=json monitor`: the exact argv, and the Interface rows
// kept from its updates (initial table, insert, old/new pair of a change, delete), as OVS 3.1 prints
// them; a watch that cannot start is not live and says so once. And the limits of a wait for "up":
// refused above ten minutes at the agent and at the CLI.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pino from 'pino';
import { BfdWatch, bfdMonitorArgs, InterfaceRows } from '../../agent/mesh/bfd-watch.js';
import { meshStatusQuery } from '../../agent/service/mesh-convert.js';
import { ExecRunner } from '../../common/runner.js';
import { ensureBuilt } from '../helpers/build.js';

const HEADINGS = ['row', 'action', 'name', 'bfd_status'];
const line = (data: unknown[][]) => JSON.stringify({ data, headings: HEADINGS });

test('the monitor: one ovsdb-client of the Interface table (name, bfd_status), on the agent’s database', () => {
  assert.deepEqual(bfdMonitorArgs('unix:/run/x/db.sock'), [
    '--format=json',
    'monitor',
    'unix:/run/x/db.sock',
    'Open_vSwitch',
    'Interface',
    'name,bfd_status',
  ]);
  assert.deepEqual(bfdMonitorArgs(), ['--format=json', 'monitor', 'Open_vSwitch', 'Interface', 'name,bfd_status']);
});

test('interface rows follow the monitor: initial, insert, a change (old then new), delete', () => {
  const rows = new InterfaceRows();
  assert.equal(
    rows.apply(
      line([
        ['u1', 'initial', 'gre-a', ['map', [['state', 'down']]]],
        ['u2', 'initial', 'br-phy', ['map', []]],
      ]),
    ),
    true,
  );
  assert.deepEqual(rows.byName().get('gre-a'), { state: 'down' });
  rows.apply(line([['u3', 'insert', 'gre-b', ['map', []]]]));
  // A change: the old row carries the uuid and only the changed columns; the new row has no uuid.
  rows.apply(
    line([
      ['u1', 'old', null, ['map', [['state', 'down']]]],
      [
        '',
        'new',
        'gre-a',
        [
          'map',
          [
            ['forwarding', 'true'],
            ['state', 'up'],
          ],
        ],
      ],
    ]),
  );
  assert.deepEqual(rows.byName().get('gre-a'), { forwarding: 'true', state: 'up' });
  const seen = rows.byName();
  assert.equal(rows.byName(), seen, 'the same map until a change: every reader of one change shares it');
  rows.apply(line([['u1', 'old', null, ['map', [['state', 'up']]]]]));
  assert.equal(rows.byName(), seen, 'an old row alone changes nothing');
  assert.equal(rows.apply(line([['u3', 'delete', 'gre-b', ['map', []]]])), true);
  assert.notEqual(rows.byName(), seen, 'a change: a new map (the one handed out before stays as it was)');
  assert.ok(seen.has('gre-b'));
  assert.deepEqual([...rows.byName().keys()].sort(), ['br-phy', 'gre-a']);
  assert.equal(rows.apply(line([['u9', 'delete', 'gone', ['map', []]]])), false, 'an unknown row changes nothing');
  assert.throws(() => rows.apply('ovsdb-client: a warning, not a table'));
});

test('a wait for up: none by default, the network filter passed on, over ten minutes refused', async () => {
  assert.deepEqual(meshStatusQuery({ network: '', waitUpMs: 0 }), {});
  assert.deepEqual(meshStatusQuery({ network: 'blue', waitUpMs: 5000 }), { network: 'blue', waitUpMs: 5000 });
  assert.throws(() => meshStatusQuery({ network: '', waitUpMs: 600_001 }), /600001 ms .* over 600000 ms/);
  const bin = await ensureBuilt();
  const r = await new ExecRunner().run(
    process.execPath,
    [bin, '--socket', '/nonexistent/agent.sock', 'mesh', 'status', '--wait', 'soon'],
    { allowFail: true },
  );
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--wait soon is not a number of seconds \(0-600\)/);
});

test('a watch that cannot start (no database) is not live, retries, and says so once', async () => {
  const lines: { level: number; msg: string }[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const w = new BfdWatch({
    runner: new ExecRunner(),
    log,
    ovsDb: 'unix:/nonexistent/fleetnet-test/db.sock',
    retryFirstMs: 10,
    retryMaxMs: 20,
  });
  w.start();
  try {
    for (let i = 0; i < 500 && lines.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    const ended = lines.filter((l) => l.msg === 'BFD watch ended; starting it again');
    assert.ok(ended.length >= 3, JSON.stringify(lines));
    assert.deepEqual(
      ended.map((l) => l.level),
      [40, ...ended.slice(1).map(() => 20)], // warn once, then debug
    );
    assert.equal(w.snapshot(), undefined);
  } finally {
    w.stop();
  }
});
