// The SQLite store (better-sqlite3): WAL, each decision atomic in a transaction of its own.
// Group commit: the decisions that arrive in the same turn of the event loop run one after the
// other inside one IMMEDIATE transaction (when one throws, the group is replayed with a SAVEPOINT
// per decision, so it rolls back alone and its caller gets the error: see runGroup); their callers
// hear back only after the COMMIT. So nothing is acknowledged before it is durable, and a burst
// pays for one commit, not hundreds.
// synchronous=NORMAL in WAL mode: a commit survives the process being killed (-9) at any point;
// only a power loss or kernel crash can lose the last commits. `synchronous: 'full'` closes that too.
// Lookups by key are kept in memory, not in SQLite indexes: attachment ids (hashes), MAC holders
// (random MACs) and address holders. A random key in a b-tree dirties a page of its own per insert,
// and those pages were about half of what each commit wrote to the WAL; every index is statements
// per decision. The attachment rows stay the durable record (each carries its addresses and MAC);
// the maps are rebuilt from them when the store opens, and follow the transactions through an
// undo log.
import type Database from 'better-sqlite3';
import { FleetnetError } from '../../common/errors.js';
import { FLEET_SCOPE, netScope } from '../mac/allocate.js';
import type { Store, Tx } from './store.js';
import { filterSql, openDatabase, prepareStatements, type Statements } from './sqlite-db.js';
import type { AttachmentFilter, AttachmentRecord, HostRecord, NetworkRecord } from './types.js';
import { UndoLog } from './undo-log.js';
import { attachmentView } from './view.js';

const holderKey = (scope: string, value: string) => `${scope}\0${value}`;

/** The most decisions one commit carries (bounds a commit's size and the wait of the first caller). */
const MAX_GROUP = 256;

type Outcome = { ok: true; value: unknown } | { ok: false; err: unknown };

export interface SqliteStoreOptions {
  path: string;
  synchronous?: 'normal' | 'full';
}

export class SqliteStore implements Store {
  readonly description: string;
  readonly synchronous: 'normal' | 'full';
  private readonly db: Database.Database;
  private readonly tx: Tx;
  private readonly q: Statements;
  private pending: { fn: (tx: Tx) => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void }[] = [];
  private flushScheduled = false;
  /**
   * The public JSON of every attachment, in memory once the full inventory was asked for (the
   * fast path of `ls --json`), kept in step with committed writes only: the writes of a transaction
   * are logged and applied after its COMMIT; a decision rolled back to its savepoint drops its part.
   */
  private views: Map<string, string> | undefined;
  private viewLog: [string, string | undefined][] = [];
  /** The whole inventory's JSON as last rendered; dropped by any committed attachment write. */
  private allJson: string | undefined;
  /** Commits that wrote an attachment: every host's attachmentsVersion (one controller writes them all). */
  private attachmentWrites = 0;
  /** Made once: better-sqlite3 builds four wrappers per db.transaction() call. */
  private readonly inGroup: Database.Transaction<(fn: () => Outcome[]) => Outcome[]>;
  /** Inside a transaction, better-sqlite3 runs a transaction function as a SAVEPOINT. */
  private readonly inSavepoint: (fn: (tx: Tx) => unknown) => unknown;
  /**
   * While a group runs on the fast path: the host and network records its decisions read and wrote,
   * parsed once, written back before any list of them and before the COMMIT (write-behind). A
   * decision that throws sends the whole group back to the replay path, where none of this applies.
   */
  private group:
    | { hosts: Map<string, HostRecord | undefined>; nets: Map<string, NetworkRecord | undefined>; dirty: Set<string> }
    | undefined;
  private readonly writeBack: () => void;
  /** Attachment id → its row (the table's rowid); see the head of this file. */
  private readonly seqOf = new Map<string, number>();
  /** `scope\0mac` → the attachment holding that MAC. */
  private readonly macHolders = new Map<string, string>();
  /** `network\0address` (canonical text, no prefix) → the attachment holding it. */
  private readonly addrHolders = new Map<string, string>();
  /** Changes to seqOf, macHolders and addrHolders made by the transaction running now. */
  private readonly undo = new UndoLog();

  constructor(o: SqliteStoreOptions) {
    this.synchronous = o.synchronous ?? 'normal';
    this.description = `sqlite:${o.path} (WAL, synchronous=${this.synchronous})`;
    this.db = openDatabase(o.path, this.synchronous);
    this.q = prepareStatements(this.db);
    this.loadHolders();
    this.inGroup = this.db.transaction((fn: () => Outcome[]) => fn());
    this.inSavepoint = this.db.transaction((fn: (tx: Tx) => unknown) => fn(this.tx));
    const { tx, writeBack } = this.makeTx();
    this.tx = tx;
    this.writeBack = writeBack;
  }

  /** The in-memory indexes (row ids, address and MAC holders) from the attachment rows. */
  private loadHolders(): void {
    // One pass over the attachment rows (one row per address; ~0.3 s for 100k attachments).
    const keys = this.db
      .prepare(
        `SELECT a.seq, a.id, a.net, a.data ->> '$.mac', a.data ->> '$.macScheme', j.value ->> '$.cidr'
      FROM attachments a LEFT JOIN json_each(a.data, '$.addresses') j`,
      )
      .raw()
      .all() as [number, string, string, string | null, string | null, string | null][];
    for (const [seq, id, net, mac, scheme, cidr] of keys) {
      this.seqOf.set(id, seq);
      if (mac) this.macHolders.set(holderKey(scheme === 'auto' ? FLEET_SCOPE : netScope(net), mac), id);
      if (cidr) this.addrHolders.set(holderKey(net, cidr.slice(0, cidr.lastIndexOf('/'))), id);
    }
  }

  /** The transaction view decisions run against, and the write-behind of a group's hosts and networks. */
  private makeTx(): { tx: Tx; writeBack: () => void } {
    const db = this.db;
    const q = this.q;
    const parse = <T>(row: { data: string } | undefined): T | undefined =>
      row ? (JSON.parse(row.data) as T) : undefined;
    // Hosts and networks: inside a group's fast path, read once and written back once at its end
    // (every attach reads and rewrites its host's generation and its network's cursor).
    const cached =
      <T extends { name: string }>(kind: 'hosts' | 'nets', get: Database.Statement<[string], { data: string }>) =>
      (name: string): T | undefined => {
        const g = this.group?.[kind] as Map<string, T | undefined> | undefined;
        if (!g) return parse<T>(get.get(name));
        if (g.has(name)) return g.get(name);
        const v = parse<T>(get.get(name));
        g.set(name, v);
        return v;
      };
    const put =
      <T extends { name: string }>(kind: 'hosts' | 'nets', write: (v: T) => void) =>
      (v: T): void => {
        const g = this.group;
        if (!g) return write(v);
        (g[kind] as Map<string, T | undefined>).set(v.name, v);
        g.dirty.add(`${kind}\0${v.name}`);
      };
    const del =
      (kind: 'hosts' | 'nets', run: (name: string) => void) =>
      (name: string): void => {
        const g = this.group;
        if (g) {
          g[kind].set(name, undefined);
          g.dirty.delete(`${kind}\0${name}`);
        }
        run(name);
      };
    const writeHost = (h: HostRecord) => void q.putHost.run(h.name, JSON.stringify(h));
    const writeNet = (n: NetworkRecord) => void q.putNet.run(n.name, JSON.stringify(n));
    const writeBack = () => {
      const g = this.group;
      if (!g?.dirty.size) return;
      for (const key of g.dirty) {
        const [kind, name] = key.split('\0') as ['hosts' | 'nets', string];
        if (kind === 'hosts') writeHost(g.hosts.get(name)!);
        else writeNet(g.nets.get(name)!);
      }
      g.dirty.clear();
    };
    const tx: Tx = {
      getHost: cached<HostRecord>('hosts', q.getHost),
      listHosts: () => {
        this.writeBack();
        return q.listHosts.all().map((r) => JSON.parse(r.data) as HostRecord);
      },
      putHost: put('hosts', writeHost),
      deleteHost: del('hosts', (n) => void q.deleteHost.run(n)),
      getNetwork: cached<NetworkRecord>('nets', q.getNet),
      listNetworks: () => {
        this.writeBack();
        return q.listNets.all().map((r) => JSON.parse(r.data) as NetworkRecord);
      },
      putNetwork: put('nets', writeNet),
      deleteNetwork: del('nets', (n) => void q.deleteNet.run(n)),
      getAttachment: (id) => {
        const seq = this.seqOf.get(id);
        return seq === undefined ? undefined : parse<AttachmentRecord>(q.getAtt.get(seq));
      },
      listAttachments: (f) => this.select('data', f).map((s) => JSON.parse(s) as AttachmentRecord),
      countAttachments: (f) => {
        const { where, args } = filterSql(f);
        return (db.prepare(`SELECT count(*) AS n FROM attachments ${where}`).get(...args) as { n: number }).n;
      },
      putAttachment: (a) => {
        const view = JSON.stringify(attachmentView(a));
        const seq = this.seqOf.get(a.id);
        if (seq !== undefined) q.updateAtt.run(a.host, a.net, JSON.stringify(a), view, seq);
        else
          this.undo.set(
            this.seqOf,
            a.id,
            Number(q.insertAtt.run(a.id, a.host, a.net, JSON.stringify(a), view).lastInsertRowid),
          );
        this.viewLog.push([a.id, view]);
      },
      deleteAttachment: (id) => {
        const seq = this.seqOf.get(id);
        if (seq === undefined) return;
        q.deleteAtt.run(seq);
        this.undo.delete(this.seqOf, id);
        this.viewLog.push([id, undefined]);
      },
      addressHolder: (net, addr) => this.addrHolders.get(holderKey(net, addr)),
      reserveAddress: (net, addr, id) => {
        const k = holderKey(net, addr);
        if (this.addrHolders.has(k))
          throw new FleetnetError('conflict', `${addr} in network ${net} is already reserved`);
        this.undo.set(this.addrHolders, k, id);
      },
      releaseAddress: (net, addr) => this.undo.delete(this.addrHolders, holderKey(net, addr)),
      macHolder: (scope, mac) => this.macHolders.get(holderKey(scope, mac)),
      reserveMac: (scope, mac, id) => {
        const k = holderKey(scope, mac);
        if (this.macHolders.has(k)) throw new FleetnetError('conflict', `MAC ${mac} is already reserved (${scope})`);
        this.undo.set(this.macHolders, k, id);
      },
      releaseMac: (scope, mac) => this.undo.delete(this.macHolders, holderKey(scope, mac)),
    };
    return { tx, writeBack };
  }

  private select(col: 'data' | 'view', f?: AttachmentFilter): string[] {
    const { where, args } = filterSql(f);
    return this.db
      .prepare(`SELECT ${col} AS v FROM attachments ${where} ORDER BY host, id`)
      .pluck()
      .all(...args) as string[];
  }

  transact<T>(fn: (tx: Tx) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.pending.splice(0, MAX_GROUP);
    if (this.pending.length) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
    if (!this.db.open) {
      for (const d of batch)
        d.reject(new FleetnetError('unavailable', 'the state store is closed (the controller is stopping)'));
      return;
    }
    let outcome: Outcome[];
    try {
      outcome = this.runGroup(batch.map((d) => d.fn));
    } catch (err) {
      this.viewLog = [];
      for (const d of batch) d.reject(err); // the commit failed: nothing in the group happened
      return;
    }
    this.applyViewLog();
    batch.forEach((d, i) => {
      const o = outcome[i]!;
      if (o.ok) d.resolve(o.value);
      else d.reject(o.err);
    });
  }

  /**
   * Runs a group of decisions in one IMMEDIATE transaction. Fast path: all of them straight in,
   * no savepoints (two statements fewer per decision). If one throws, the whole transaction is
   * rolled back and the group runs again, each decision in its own SAVEPOINT, so that only the
   * refused one is undone: decisions may run more than once (store.ts), callers hear only the end.
   */
  private runGroup(fns: ((tx: Tx) => unknown)[]): Outcome[] {
    const refused = Symbol('refused');
    try {
      return this.committed(() =>
        this.inGroup.immediate(() => {
          this.group = { hosts: new Map(), nets: new Map(), dirty: new Set() };
          const out = fns.map((fn): Outcome => {
            try {
              return { ok: true, value: fn(this.tx) };
            } catch (err) {
              throw Object.assign(new Error('a decision of the group was refused'), { [refused]: true, cause: err });
            }
          });
          this.writeBack();
          return out;
        }),
      );
    } catch (err) {
      if (!(err as Record<symbol, unknown>)[refused]) throw err;
      this.viewLog = [];
    } finally {
      this.group = undefined;
    }
    return this.committed(() =>
      this.inGroup.immediate(() =>
        fns.map((fn): Outcome => {
          const mark = this.viewLog.length;
          const undoMark = this.undo.mark();
          try {
            return { ok: true, value: this.inSavepoint(fn) };
          } catch (err) {
            this.viewLog.length = mark;
            this.undo.rollbackTo(undoMark);
            return { ok: false, err };
          }
        }),
      ),
    );
  }

  /** Runs a transaction; the in-memory maps keep its changes if it committed, lose them if not. */
  private committed<T>(run: () => T): T {
    try {
      const r = run();
      this.undo.clear();
      return r;
    } catch (err) {
      this.undo.rollbackTo(0);
      throw err;
    }
  }

  read<T>(fn: (tx: Tx) => T): Promise<T> {
    try {
      return Promise.resolve(this.db.transaction(() => fn(this.tx)).deferred());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  private applyViewLog(): void {
    if (this.viewLog.length) {
      this.allJson = undefined;
      this.attachmentWrites++;
    }
    if (this.views) {
      for (const [id, v] of this.viewLog) {
        if (v === undefined) this.views.delete(id);
        else this.views.set(id, v);
      }
    }
    this.viewLog = [];
  }

  attachmentsVersion(): number {
    return this.attachmentWrites;
  }

  attachmentsJson(f?: AttachmentFilter): Promise<string> {
    if (f?.host || f?.net) return Promise.resolve(`[${this.select('view', f).join(',')}]`);
    if (!this.views) {
      const rows = this.db.prepare('SELECT id, view FROM attachments ORDER BY host, id').raw().all() as [
        string,
        string,
      ][];
      this.views = new Map(rows);
    }
    // The same string object until a commit changes an attachment (the service caches its bytes by it).
    this.allJson ??= `[${[...this.views.values()].join(',')}]`;
    return Promise.resolve(this.allJson);
  }

  close(): void {
    if (this.pending.length) this.flush();
    if (this.db.open) this.db.close();
  }
}
