// The SQLite store's database file: its tables, the one migration from the first layout, the pragmas
// it is opened with, and the statements every transaction uses (prepared once).
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { FleetnetError } from '../../common/errors.js';
import type { AttachmentFilter } from './types.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS hosts (name TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS networks (name TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS attachments (
  seq INTEGER PRIMARY KEY, id TEXT NOT NULL, host TEXT NOT NULL, net TEXT NOT NULL,
  data TEXT NOT NULL, view TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS attachments_host ON attachments(host);
CREATE INDEX IF NOT EXISTS attachments_net ON attachments(net);
DROP TABLE IF EXISTS addresses;
DROP TABLE IF EXISTS macs;
`;

/** A state file of the first layout (attachments keyed by id; addresses and macs tables): rewritten in place once. */
const MIGRATE_V1 = `
CREATE TABLE attachments_v2 (
  seq INTEGER PRIMARY KEY, id TEXT NOT NULL, host TEXT NOT NULL, net TEXT NOT NULL,
  data TEXT NOT NULL, view TEXT NOT NULL);
INSERT INTO attachments_v2 (id, host, net, data, view) SELECT id, host, net, data, view FROM attachments ORDER BY rowid;
DROP TABLE attachments;
ALTER TABLE attachments_v2 RENAME TO attachments;
`;

/** Opens (creating) the state database in WAL mode, migrating an older layout. */
export function openDatabase(path: string, synchronous: string): Database.Database {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  try {
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous.toUpperCase()}`);
    db.pragma('busy_timeout = 5000');
    // Checkpoint every ~40 MB of WAL instead of 4 MB: a page written by many commits is copied
    // back (and the database fsynced) once per checkpoint; about 10 % less CPU per decision here.
    db.pragma('wal_autocheckpoint = 10000');
    const cols = db.prepare("SELECT name FROM pragma_table_info('attachments')").pluck().all() as string[];
    if (cols.length && !cols.includes('seq')) db.transaction(() => db.exec(MIGRATE_V1)).immediate();
    db.exec(SCHEMA);
    return db;
  } catch (err) {
    throw new FleetnetError('failed', `cannot open the state database ${path}`, {
      cause: err,
      hint: 'check the path and its permissions (--db PATH)',
    });
  }
}

/** The statements every transaction uses, prepared once. */
export function prepareStatements(db: Database.Database) {
  return {
    getHost: db.prepare<[string], { data: string }>('SELECT data FROM hosts WHERE name = ?'),
    listHosts: db.prepare<[], { data: string }>('SELECT data FROM hosts ORDER BY name'),
    putHost: db.prepare('INSERT OR REPLACE INTO hosts (name, data) VALUES (?, ?)'),
    deleteHost: db.prepare('DELETE FROM hosts WHERE name = ?'),
    getNet: db.prepare<[string], { data: string }>('SELECT data FROM networks WHERE name = ?'),
    listNets: db.prepare<[], { data: string }>('SELECT data FROM networks ORDER BY name'),
    putNet: db.prepare('INSERT OR REPLACE INTO networks (name, data) VALUES (?, ?)'),
    deleteNet: db.prepare('DELETE FROM networks WHERE name = ?'),
    getAtt: db.prepare<[number], { data: string }>('SELECT data FROM attachments WHERE seq = ?'),
    insertAtt: db.prepare('INSERT INTO attachments (id, host, net, data, view) VALUES (?, ?, ?, ?, ?)'),
    updateAtt: db.prepare('UPDATE attachments SET host = ?, net = ?, data = ?, view = ? WHERE seq = ?'),
    deleteAtt: db.prepare('DELETE FROM attachments WHERE seq = ?'),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;

/** The WHERE clause (and its arguments) of an attachment filter. */
export function filterSql(f?: AttachmentFilter): { where: string; args: string[] } {
  const conds: string[] = [];
  const args: string[] = [];
  if (f?.host) {
    conds.push('host = ?');
    args.push(f.host);
  }
  if (f?.net) {
    conds.push('net = ?');
    args.push(f.net);
  }
  return { where: conds.length ? `WHERE ${conds.join(' AND ')}` : '', args };
}
