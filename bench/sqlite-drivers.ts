// node:sqlite against better-sqlite3 on the controller store's own operations (controller/store/
// sqlite.ts): the same schema and pragmas (WAL, synchronous=NORMAL), then, interleaved driver by
// driver, round by round:
//   - group commits of attach decisions: per decision one attachment INSERT (data + view JSON) and
//     the host and network rows written back, COMMIT per group (groups of 1 and of 64);
//   - the open-time key scan over every attachment (json_each over its addresses);
//   - the `ls --json` read: every attachment's view, ordered by host and id.
//   node --import tsx bench/sqlite-drivers.ts [--rows 20000] [--rounds 3]   (writes bench/results/sqlite-drivers.json)
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';

import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { cpus, release } from 'node:os';
import { parseArgs } from 'node:util';
import { writeResults, type ResultRow } from './lib/results.js';
import { summarize } from './lib/stats.js';

const { values } = parseArgs({
  options: { rows: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '3' } },
});
const ROWS = Number(values.rows);
const ROUNDS = Number(values.rounds);

const SCHEMA = `
CREATE TABLE hosts (name TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE networks (name TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE attachments (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, host TEXT NOT NULL, net TEXT NOT NULL,
  data TEXT NOT NULL, view TEXT NOT NULL);
CREATE INDEX attachments_host ON attachments(host);
CREATE INDEX attachments_net ON attachments(net);`;
const KEYS = `SELECT a.seq, a.id, a.net, a.data ->> '$.mac', a.data ->> '$.macScheme', j.value ->> '$.cidr'
  FROM attachments a LEFT JOIN json_each(a.data, '$.addresses') j`;
const VIEWS = 'SELECT id, view FROM attachments ORDER BY host, id';

/** What the store does with a driver; each driver in its own words. */
interface Driver {
  name: string;
  exec(sql: string): void;
  insertAtt(id: string, host: string, net: string, data: string, view: string): void;
  putHost(name: string, data: string): void;
  putNet(name: string, data: string): void;
  rows(sql: string): unknown[][];
  close(): void;
}

function better(path: string): Driver {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(SCHEMA);
  const ins = db.prepare('INSERT INTO attachments (id, host, net, data, view) VALUES (?, ?, ?, ?, ?)');
  const host = db.prepare('INSERT OR REPLACE INTO hosts (name, data) VALUES (?, ?)');
  const net = db.prepare('INSERT OR REPLACE INTO networks (name, data) VALUES (?, ?)');
  return {
    name: 'better-sqlite3',
    exec: (sql) => db.exec(sql),
    insertAtt: (...a) => void ins.run(...a),
    putHost: (...a) => void host.run(...a),
    putNet: (...a) => void net.run(...a),
    rows: (sql) => db.prepare(sql).raw().all() as unknown[][],
    close: () => db.close(),
  };
}

function nodeSqlite(path: string): Driver {
  const db = new DatabaseSync(path);
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;');
  db.exec(SCHEMA);
  const ins = db.prepare('INSERT INTO attachments (id, host, net, data, view) VALUES (?, ?, ?, ?, ?)');
  const host = db.prepare('INSERT OR REPLACE INTO hosts (name, data) VALUES (?, ?)');
  const net = db.prepare('INSERT OR REPLACE INTO networks (name, data) VALUES (?, ?)');
  return {
    name: 'node:sqlite',
    exec: (sql) => db.exec(sql),
    insertAtt: (...a) => void ins.run(...a),
    putHost: (...a) => void host.run(...a),
    putNet: (...a) => void net.run(...a),
    rows: (sql) => {
      const st = db.prepare(sql);
      st.setReturnArrays(true);
      return st.all() as unknown as unknown[][];
    },
    close: () => db.close(),
  };
}

/** One decision's rows, shaped like the store's (a JSON record and its view). */
function decision(d: Driver, i: number): void {
  const id = `att-${i}`;
  const a = 10 + (i >> 16);
  const addr = `10.${a}.${(i >> 8) & 255}.${i & 255}/8`;
  const hex = (x: number) => (x & 255).toString(16).padStart(2, '0');
  const mac = `02:0a:00:${hex(i >> 16)}:${hex(i >> 8)}:${hex(i)}`;
  const data = JSON.stringify({
    id,
    host: `h${i % 50}`,
    net: 'big',
    target: { kind: 'auto', value: `c${i}` },
    ifname: 'eth1',
    addresses: [{ cidr: addr }],
    mac,
    macScheme: 'auto',
    state: 'pending',
    generation: i,
  });
  const view = JSON.stringify({
    id,
    container: `c${i}`,
    host: `h${i % 50}`,
    net: 'big',
    ifname: 'eth1',
    mac,
    addresses: [addr],
    state: 'pending',
  });
  d.insertAtt(id, `h${i % 50}`, 'big', data, view);
  d.putHost(`h${i % 50}`, JSON.stringify({ name: `h${i % 50}`, agentAddr: '10.99.0.1:7441', generation: i }));
  d.putNet('big', JSON.stringify({ name: 'big', subnets: ['10.0.0.0/8'], cursor: i }));
}

function timed(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const dir = mkdtempSync(join(tmpdir(), 'fn-sqlite-drivers-'));
const results = new Map<string, Record<string, number[]>>();
const record = (driver: string, what: string, ms: number) => {
  const r = results.get(driver) ?? {};
  (r[what] ??= []).push(ms);
  results.set(driver, r);
};
const load = loadavg()[0]!.toFixed(2);
try {
  for (let round = 0; round < ROUNDS; round++) {
    for (const make of round % 2 ? [nodeSqlite, better] : [better, nodeSqlite]) {
      const path = join(dir, `r${round}-${make.name}.db`);
      const d = make(path);
      let i = 0;
      record(
        d.name,
        'single decisions, COMMIT each (per decision, µs)',
        (timed(() => {
          for (const end = ROWS / 2; i < end; i++) {
            d.exec('BEGIN IMMEDIATE');
            decision(d, i);
            d.exec('COMMIT');
          }
        }) *
          1000) /
          (ROWS / 2),
      );
      record(
        d.name,
        'groups of 64 decisions, one COMMIT (per decision, µs)',
        (timed(() => {
          while (i < ROWS) {
            d.exec('BEGIN IMMEDIATE');
            for (let k = 0; k < 64 && i < ROWS; k++, i++) decision(d, i);
            d.exec('COMMIT');
          }
        }) *
          1000) /
          (ROWS / 2),
      );
      record(
        d.name,
        `open-time key scan of ${ROWS} attachments (ms)`,
        timed(() => void d.rows(KEYS)),
      );
      record(
        d.name,
        `ls --json read of ${ROWS} views (ms)`,
        timed(() => void d.rows(VIEWS)),
      );
      d.close();
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
process.stdout.write(
  `node ${process.version}, ${ROWS} attachments, ${ROUNDS} rounds interleaved, ` +
    `1-minute load ${load} before, ${loadavg()[0]!.toFixed(2)} after\n`,
);
const whats = Object.keys(results.values().next().value ?? {});
const rows: ResultRow[] = [];
const comparisons = [];
for (const w of whats) {
  const b = median(results.get('better-sqlite3')![w]!);
  const n = median(results.get('node:sqlite')![w]!);
  process.stdout.write(
    `${w.padEnd(56)} better-sqlite3 ${b.toFixed(1).padStart(8)}  node:sqlite ${n.toFixed(1).padStart(8)}  ` +
      `node/better ${(n / b).toFixed(2)}×\n`,
  );
  for (const d of ['better-sqlite3', 'node:sqlite'])
    rows.push({ name: `${d}: ${w}`, ...summarize(results.get(d)![w]!) });
  comparisons.push({ what: `node:sqlite / better-sqlite3: ${w}`, ratio: Math.round((n / b) * 100) / 100 });
}
writeResults('bench/results/sqlite-drivers.json', {
  title: "SQLite drivers on the store's operations: node:sqlite vs better-sqlite3",
  path: 'bench/sqlite-drivers.ts',
  date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  n: ROUNDS,
  machine: {
    nproc: cpus().length,
    kernel: release(),
    cpu: cpus()[0]?.model.trim() ?? '',
    node: process.versions.node,
    load1: `${load} before, ${loadavg()[0]!.toFixed(2)} after`,
  },
  rows,
  comparisons,
  notes: [
    "The controller store's schema and pragmas (WAL, synchronous=NORMAL) in a temporary file per driver and round; " +
      `${ROWS} attach decisions per round (half committed one by one, half in groups of 64; ` +
      'each decision one attachment INSERT with its JSON record and view, ' +
      'and the host and network rows written back), then the open-time key scan ' +
      "(json_each over every attachment's addresses) and the ls --json read (every view, ordered by host and id). " +
      'Rounds alternate which driver goes first. Rows: the per-round figures (µs per decision, or ms per read).',
    'better-sqlite3 ' +
      (await import('better-sqlite3/package.json', { with: { type: 'json' } })).default.version +
      ' (its own SQLite), node:sqlite of Node ' +
      process.version +
      ' (SQLite built into Node).',
  ],
});
