// The SQLite store (better-sqlite3): WAL, one IMMEDIATE transaction per decision.
// synchronous=NORMAL in WAL mode: a commit survives the process being killed (-9) at any point;
// only a power loss or kernel crash can lose the last commits. `synchronous: 'full'` closes that too.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { FleetnetError } from '../../common/errors.js';
import type { Store, Tx } from './store.js';
import type { AttachmentFilter, AttachmentRecord, HostRecord, NetworkRecord } from './types.js';
import { attachmentView } from './view.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS hosts (name TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS networks (name TEXT PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS attachments (
  id TEXT PRIMARY KEY, host TEXT NOT NULL, net TEXT NOT NULL, data TEXT NOT NULL, view TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS attachments_host ON attachments(host);
CREATE INDEX IF NOT EXISTS attachments_net ON attachments(net);
CREATE TABLE IF NOT EXISTS addresses (
  net TEXT NOT NULL, addr TEXT NOT NULL, attachment_id TEXT NOT NULL, PRIMARY KEY (net, addr)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS addresses_owner ON addresses(attachment_id);
CREATE TABLE IF NOT EXISTS macs (
  scope TEXT NOT NULL, mac TEXT NOT NULL, attachment_id TEXT NOT NULL, PRIMARY KEY (scope, mac)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS macs_owner ON macs(attachment_id);
`;

export interface SqliteStoreOptions {
  path: string;
  synchronous?: 'normal' | 'full';
}

export class SqliteStore implements Store {
  readonly description: string;
  readonly synchronous: 'normal' | 'full';
  private readonly db: Database.Database;
  private readonly tx: Tx;
  private readonly q;

  constructor(o: SqliteStoreOptions) {
    this.synchronous = o.synchronous ?? 'normal';
    this.description = `sqlite:${o.path} (WAL, synchronous=${this.synchronous})`;
    mkdirSync(dirname(o.path), { recursive: true, mode: 0o700 });
    try {
      this.db = new Database(o.path);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${this.synchronous.toUpperCase()}`);
      this.db.pragma('busy_timeout = 5000');
      this.db.exec(SCHEMA);
    } catch (err) {
      throw new FleetnetError('failed', `cannot open the state database ${o.path}`, { cause: err, hint: 'check the path and its permissions (--db PATH)' });
    }
    const db = this.db;
    this.q = {
      getHost: db.prepare<[string], { data: string }>('SELECT data FROM hosts WHERE name = ?'),
      listHosts: db.prepare<[], { data: string }>('SELECT data FROM hosts ORDER BY name'),
      putHost: db.prepare('INSERT OR REPLACE INTO hosts (name, data) VALUES (?, ?)'),
      deleteHost: db.prepare('DELETE FROM hosts WHERE name = ?'),
      getNet: db.prepare<[string], { data: string }>('SELECT data FROM networks WHERE name = ?'),
      listNets: db.prepare<[], { data: string }>('SELECT data FROM networks ORDER BY name'),
      putNet: db.prepare('INSERT OR REPLACE INTO networks (name, data) VALUES (?, ?)'),
      deleteNet: db.prepare('DELETE FROM networks WHERE name = ?'),
      getAtt: db.prepare<[string], { data: string }>('SELECT data FROM attachments WHERE id = ?'),
      putAtt: db.prepare('INSERT OR REPLACE INTO attachments (id, host, net, data, view) VALUES (?, ?, ?, ?, ?)'),
      deleteAtt: db.prepare('DELETE FROM attachments WHERE id = ?'),
      addrHolder: db.prepare<[string, string], { attachment_id: string }>('SELECT attachment_id FROM addresses WHERE net = ? AND addr = ?'),
      reserveAddr: db.prepare('INSERT INTO addresses (net, addr, attachment_id) VALUES (?, ?, ?)'),
      releaseAddrs: db.prepare('DELETE FROM addresses WHERE attachment_id = ?'),
      macHolder: db.prepare<[string, string], { attachment_id: string }>('SELECT attachment_id FROM macs WHERE scope = ? AND mac = ?'),
      reserveMac: db.prepare('INSERT INTO macs (scope, mac, attachment_id) VALUES (?, ?, ?)'),
      releaseMacs: db.prepare('DELETE FROM macs WHERE attachment_id = ?'),
    };
    const q = this.q;
    const parse = <T>(row: { data: string } | undefined): T | undefined => (row ? (JSON.parse(row.data) as T) : undefined);
    this.tx = {
      getHost: (n) => parse<HostRecord>(q.getHost.get(n)),
      listHosts: () => q.listHosts.all().map((r) => JSON.parse(r.data) as HostRecord),
      putHost: (h) => void q.putHost.run(h.name, JSON.stringify(h)),
      deleteHost: (n) => void q.deleteHost.run(n),
      getNetwork: (n) => parse<NetworkRecord>(q.getNet.get(n)),
      listNetworks: () => q.listNets.all().map((r) => JSON.parse(r.data) as NetworkRecord),
      putNetwork: (n) => void q.putNet.run(n.name, JSON.stringify(n)),
      deleteNetwork: (n) => void q.deleteNet.run(n),
      getAttachment: (id) => parse<AttachmentRecord>(q.getAtt.get(id)),
      listAttachments: (f) => this.select('data', f).map((s) => JSON.parse(s) as AttachmentRecord),
      countAttachments: (f) => {
        const { where, args } = filterSql(f);
        return (db.prepare(`SELECT count(*) AS n FROM attachments ${where}`).get(...args) as { n: number }).n;
      },
      putAttachment: (a) => void q.putAtt.run(a.id, a.host, a.net, JSON.stringify(a), JSON.stringify(attachmentView(a))),
      deleteAttachment: (id) => void q.deleteAtt.run(id),
      addressHolder: (net, addr) => q.addrHolder.get(net, addr)?.attachment_id,
      reserveAddress: (net, addr, id) => void q.reserveAddr.run(net, addr, id),
      releaseAddresses: (id) => void q.releaseAddrs.run(id),
      macHolder: (scope, mac) => q.macHolder.get(scope, mac)?.attachment_id,
      reserveMac: (scope, mac, id) => void q.reserveMac.run(scope, mac, id),
      releaseMacs: (id) => void q.releaseMacs.run(id),
    };
  }

  private select(col: 'data' | 'view', f?: AttachmentFilter): string[] {
    const { where, args } = filterSql(f);
    return this.db.prepare(`SELECT ${col} AS v FROM attachments ${where} ORDER BY host, id`).pluck().all(...args) as string[];
  }

  transact<T>(fn: (tx: Tx) => T): Promise<T> {
    try {
      return Promise.resolve(this.db.transaction(() => fn(this.tx)).immediate());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  read<T>(fn: (tx: Tx) => T): Promise<T> {
    try {
      return Promise.resolve(this.db.transaction(() => fn(this.tx)).deferred());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  attachmentsJson(f?: AttachmentFilter): Promise<string> {
    return Promise.resolve(`[${this.select('view', f).join(',')}]`);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function filterSql(f?: AttachmentFilter): { where: string; args: string[] } {
  const conds: string[] = [];
  const args: string[] = [];
  if (f?.host) { conds.push('host = ?'); args.push(f.host); }
  if (f?.net) { conds.push('net = ?'); args.push(f.net); }
  return { where: conds.length ? `WHERE ${conds.join(' AND ')}` : '', args };
}
