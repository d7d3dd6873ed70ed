// The Store on etcd, for several controllers sharing one fleet (issue 13).
//
// Every controller holds a mirror of the data keys (mirror.ts), filled by one paged read at a
// fixed revision and kept current by one watch. A decision runs synchronously against the mirror
// (overlay-tx.ts) and commits as one etcd transaction that compares the revision of every key it
// read: if another controller changed one meanwhile, the transaction's failure branch returns the
// current values of those keys, the mirror takes them and the decision runs again (etcd's STM).
// As in the SQLite store, the decisions of one event-loop turn share one commit (group commit),
// each refused decision rolled back alone; a group stays under etcd's --max-txn-ops (128).
//
// A commit carries a request id (`r/<controller>/<n>`, written in the same transaction). When
// etcd does not answer a commit (a timeout may still have committed), the id says what happened:
// present, it committed and the callers get their answers; absent, they get "store unavailable",
// and a retry of their request is applied once, because every decision compares what it read (a
// late commit of the first attempt makes the retry's compare fail and the retry finds its record).
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { CompareResult, CompareTarget, type Etcd3, type IKeyValue, type IRequestOp, type Watcher } from 'etcd3';
import type { Logger } from 'pino';
import { FleetnetError } from '../../../common/errors.js';
import type { HostOwnership, SharedStore, Store, Tx } from '../store.js';
import type { AttachmentFilter } from '../types.js';
import { etcdClient, storeUnavailable, type EtcdOptions } from './connect.js';
import { EtcdHostLeases } from './host-leases.js';
import { ATTS, DATA, HOSTS, SCHEMA_VERSION, keys, nameOf, prefixEnd } from './keys.js';
import { Mirror } from './mirror.js';
import { OverlayTx } from './overlay-tx.js';

/** Compares or operations per transaction: etcd's default --max-txn-ops is 128. */
const MAX_TXN_OPS = 120;
/** Keys per page when the mirror is loaded (a page stays far below gRPC's 4 MiB message limit). */
const PAGE = 2000;
/** Rounds of a group lost to other controllers before its callers hear "busy". */
const MAX_ROUNDS = 200;

type Outcome = { ok: true; value: unknown } | { ok: false; err: unknown };
interface Decision {
  fn: (tx: Tx) => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export interface EtcdStoreOptions extends EtcdOptions {
  log: Logger;
}

export class EtcdStore implements Store, SharedStore {
  readonly description: string;
  readonly controllerId = `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
  readonly prefix: Buffer;
  readonly mirror = new Mirror();
  private watcher: Watcher | undefined;
  private watching = false;
  private pending: Decision[] = [];
  private busy = false;
  private seq = 0;
  private lastRequest: string | undefined;
  private closed = false;

  private constructor(readonly client: Etcd3, private readonly o: EtcdStoreOptions) {
    this.prefix = Buffer.from(o.prefix ?? '/fleetnet/');
    this.description = `etcd:${o.urls.join(',')} (prefix ${this.prefix.toString()})`;
  }

  /** Connects, checks the schema, loads the mirror, starts the watch. Unreachable: "store unavailable". */
  static async open(o: EtcdStoreOptions): Promise<EtcdStore> {
    const s = new EtcdStore(etcdClient(o), o);
    try {
      await s.checkSchema();
      const rev = await s.load();
      await s.watch(rev);
    } catch (err) {
      s.close();
      throw err instanceof FleetnetError ? err : storeUnavailable(o.urls, err);
    }
    o.log.info({ store: s.description, keys: s.mirror.size, controller: s.controllerId }, 'etcd store open');
    return s;
  }

  key(k: string): Buffer {
    return Buffer.concat([this.prefix, Buffer.from(k)]);
  }

  private unkey(b: Buffer): string {
    return b.subarray(this.prefix.length).toString();
  }

  private async checkSchema(): Promise<void> {
    const k = this.key(keys.schema);
    const r = await this.client.kv.range({ key: k });
    const have = r.kvs[0] ? Number(r.kvs[0].value.toString()) : undefined;
    if (have !== undefined && !(have <= SCHEMA_VERSION)) {
      throw new FleetnetError('invalid', `the store under ${this.prefix.toString()} was written by a newer fleetnet (schema ${r.kvs[0]!.value.toString()}; this controller knows ${SCHEMA_VERSION})`, {
        hint: 'run the fleetnet version that wrote it (or newer) on every controller; nothing was changed',
      });
    }
    if (have === undefined) {
      await this.client.kv.txn({
        compare: [{ key: k, target: CompareTarget.Create, result: CompareResult.Equal, create_revision: 0 }],
        success: [{ request_put: { key: k, value: Buffer.from(String(SCHEMA_VERSION)) } }],
        failure: [],
      });
    }
  }

  /** Every data key at one revision, page by page; returns that revision. */
  private async load(): Promise<number> {
    const start = this.key(DATA);
    const end = prefixEnd(start);
    let key = start;
    let rev = 0;
    for (;;) {
      const r = await this.client.kv.range({ key, range_end: end, limit: PAGE, ...(rev ? { revision: rev } : {}) });
      if (!rev) rev = Number(r.header.revision);
      for (const kv of r.kvs) this.mirror.apply(this.unkey(kv.key), kv.value.toString(), Number(kv.mod_revision));
      if (!r.more || !r.kvs.length) break;
      key = Buffer.concat([r.kvs[r.kvs.length - 1]!.key, Buffer.from([0])]);
    }
    this.mirror.watchedTo(rev);
    return rev;
  }

  private async watch(rev: number): Promise<void> {
    const w = await this.client.watch().prefix(this.key(DATA)).startRevision(String(rev + 1)).create();
    this.watcher = w;
    this.watching = true;
    const fromWatch = (kv: IKeyValue, v: string | undefined) => {
      const mod = Number(kv.mod_revision);
      this.mirror.apply(this.unkey(kv.key), v, mod, true);
      this.mirror.watchedTo(mod);
    };
    w.on('put', (kv) => fromWatch(kv, kv.value.toString()));
    w.on('delete', (kv) => fromWatch(kv, undefined));
    w.on('disconnected', (err) => {
      if (this.watching) this.o.log.warn({ err: err.message }, 'etcd watch lost; reads wait for it');
      this.watching = false;
    });
    w.on('connected', () => {
      if (!this.watching) this.o.log.info('etcd watch back');
      this.watching = true;
    });
    w.on('error', (err) => this.o.log.error({ err: err.message }, 'etcd watch failed'));
  }

  /** Another controller changed an attachment (id, its host) or a host. */
  onRemoteChange(l: (c: { kind: 'attachment' | 'host'; name: string; host: string }) => void): void {
    this.mirror.onChange((k, v, fromWatch) => {
      if (!fromWatch) return;
      if (k.startsWith(ATTS)) {
        const host = v ? (JSON.parse(v) as { host: string }).host : '';
        l({ kind: 'attachment', name: nameOf(k, ATTS), host });
      } else if (k.startsWith(HOSTS)) {
        l({ kind: 'host', name: nameOf(k, HOSTS), host: nameOf(k, HOSTS) });
      }
    });
  }

  hostOwnership(log: Logger): HostOwnership {
    return new EtcdHostLeases(this, log);
  }

  transact<T>(fn: (tx: Tx) => T): Promise<T> {
    if (this.closed) return Promise.reject(new FleetnetError('unavailable', 'the state store is closed (the controller is stopping)'));
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.busy || !this.pending.length) return;
    this.busy = true;
    setImmediate(() => {
      void this.flush().finally(() => {
        this.busy = false;
        this.schedule();
      });
    });
  }

  /** Takes as many waiting decisions as fit one transaction and commits them; loops on lost compares. */
  private async flush(): Promise<void> {
    let batch = this.pending.splice(0);
    for (let round = 0; ; round++) {
      const { group, outcomes, taken, deferred } = this.runGroup(batch);
      this.pending.unshift(...deferred);
      batch = taken;
      if (!batch.length) return;
      let r: 'ok' | 'conflict';
      try {
        r = await this.commit(group);
      } catch (err) {
        for (const d of batch) d.reject(err);
        return;
      }
      if (r === 'ok') {
        batch.forEach((d, i) => settle(d, outcomes[i]!));
        return;
      }
      if (round >= MAX_ROUNDS) {
        for (const d of batch) d.reject(new FleetnetError('unavailable', 'the store is too busy: other controllers changed the same records again and again', { hint: 'retry the request' }));
        return;
      }
    }
  }

  /** Runs decisions on one overlay, each rolled back alone when it throws (its reads still count). */
  private runGroup(batch: Decision[]): { group: OverlayTx; outcomes: Outcome[]; taken: Decision[]; deferred: Decision[] } {
    const group = new OverlayTx(this.mirror);
    const outcomes: Outcome[] = [];
    const taken: Decision[] = [];
    const deferred: Decision[] = [];
    for (const d of batch) {
      if (deferred.length) {
        deferred.push(d);
        continue;
      }
      const child = new OverlayTx(this.mirror, group);
      let o: Outcome;
      try {
        o = { ok: true, value: d.fn(child) };
      } catch (err) {
        o = { ok: false, err };
        child.writes.clear();
      }
      const reads = group.reads.size + child.reads.size;
      const writes = group.writes.size + child.writes.size + 2;
      if (taken.length && (reads > MAX_TXN_OPS || writes > MAX_TXN_OPS)) {
        deferred.push(d);
        continue;
      }
      child.mergeInto(group);
      outcomes.push(o);
      taken.push(d);
    }
    return { group, outcomes, taken, deferred };
  }

  /** One etcd transaction: 'ok', or 'conflict' with the mirror brought up to date for the keys read. */
  private async commit(g: OverlayTx): Promise<'ok' | 'conflict'> {
    const reads = [...g.reads];
    const request = keys.request(this.controllerId, ++this.seq);
    const success: IRequestOp[] = [];
    for (const [k, v] of g.writes) {
      success.push(v === undefined ? { request_delete_range: { key: this.key(k) } } : { request_put: { key: this.key(k), value: Buffer.from(v) } });
    }
    if (!success.length && !reads.length) return 'ok';
    success.push({ request_put: { key: this.key(request), value: Buffer.from('1') } });
    if (this.lastRequest) success.push({ request_delete_range: { key: this.key(this.lastRequest) } });
    let res;
    try {
      res = await this.client.kv.txn({
        compare: reads.map(([k, mod]) => ({ key: this.key(k), target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: mod })),
        success,
        failure: reads.map(([k]) => ({ request_range: { key: this.key(k) } })),
      });
    } catch (err) {
      const rev = await this.committedAt(request, err);
      this.applyWrites(g, rev);
      this.lastRequest = request;
      return 'ok';
    }
    if (res.succeeded) {
      this.applyWrites(g, Number(res.header.revision));
      this.lastRequest = request;
      return 'ok';
    }
    const at = Number(res.header.revision);
    res.responses.forEach((r, i) => {
      const kv = r.response_range?.kvs[0];
      if (kv) this.mirror.apply(reads[i]![0], kv.value.toString(), Number(kv.mod_revision));
      else this.mirror.apply(reads[i]![0], undefined, at);
    });
    return 'conflict';
  }

  /** A commit got no answer: did it happen? Its request id says (the revision), else "store unavailable". */
  private async committedAt(request: string, err: unknown): Promise<number> {
    let found;
    try {
      found = await this.client.kv.range({ key: this.key(request) });
    } catch {
      throw storeUnavailable(this.o.urls, err);
    }
    const kv = found.kvs[0];
    if (!kv) throw storeUnavailable(this.o.urls, err);
    this.o.log.info({ request }, 'a commit without an answer had committed (found by its request id)');
    return Number(kv.mod_revision);
  }

  private applyWrites(g: OverlayTx, rev: number): void {
    for (const [k, v] of g.writes) this.mirror.apply(k, v, rev);
  }

  read<T>(fn: (tx: Tx) => T): Promise<T> {
    if (!this.watching) return Promise.reject(storeUnavailable(this.o.urls, new Error('the watch on etcd is down')));
    try {
      return Promise.resolve(fn(new OverlayTx(this.mirror, undefined, true)));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  attachmentsJson(f?: AttachmentFilter): Promise<string> {
    if (!this.watching) return Promise.reject(storeUnavailable(this.o.urls, new Error('the watch on etcd is down')));
    return Promise.resolve(this.mirror.attachmentsJson(f));
  }

  /** Removes every data key of this fleet (a failed migration into an empty prefix undoes itself). */
  async clearData(): Promise<void> {
    const start = this.key(DATA);
    await this.client.kv.deleteRange({ key: start, range_end: prefixEnd(start) });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watching = false;
    for (const d of this.pending.splice(0)) d.reject(new FleetnetError('unavailable', 'the state store is closed (the controller is stopping)'));
    const w = this.watcher;
    const last = this.lastRequest;
    void (async () => {
      await w?.cancel().catch(() => undefined);
      if (last) await this.client.delete().key(this.key(last)).catch(() => undefined);
      this.client.close();
    })();
  }
}

function settle(d: Decision, o: Outcome): void {
  if (o.ok) d.resolve(o.value);
  else d.reject(o.err);
}
