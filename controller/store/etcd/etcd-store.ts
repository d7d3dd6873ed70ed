// The Store on etcd, for several controllers sharing one fleet (issue 13).
//
// Every controller holds a mirror of the data keys (mirror.ts), filled by one paged read at a
// fixed revision and kept current by one watch (mirror-feed.ts). A decision runs synchronously against the mirror
// (overlay-tx.ts) and commits as one etcd transaction that compares the revision of every key it
// read: if another controller changed one meanwhile, the transaction's failure branch returns the
// current values of those keys, the mirror takes them and the decision runs again (etcd's STM).
// As in the SQLite store, the decisions of one event-loop turn share one commit (group commit),
// each refused decision rolled back alone; a group stays under etcd's --max-txn-ops (128).
//
// A commit carries a request id (`r/<controller>/<n>`, written in the same transaction, compared
// as absent). When etcd does not answer a commit (a timed-out request may still commit, even much
// later), the request is fenced (request-fence.ts): its callers get their answers if it had
// committed, "store unavailable; nothing was changed" if it never can, and "store unavailable; this
// change may still take effect" while etcd answers neither. A retry of their request is applied
// once: every decision compares what it read, and an attachment's id derives from what it names.
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { CompareResult, CompareTarget, type Etcd3, type IRequestOp, type Lease } from 'etcd3';
import type { Logger } from 'pino';
import { FleetnetError } from '../../../common/errors.js';
import type { HostOwnership, RemoteChange, SharedStore, Store, Tx } from '../store.js';
import type { AttachmentFilter } from '../types.js';
import { etcdClient, storeUnavailable, type EtcdOptions } from './connect.js';
import { EtcdHostLeases } from './host-leases.js';
import { BLOCKS, DATA, SCHEMA_VERSION, keys, prefixEnd } from './keys.js';
import { MirrorFeed } from './mirror-feed.js';
import { COMMITTED, RequestFences } from './request-fence.js';
import { sharedTrust } from './trust.js';
import type { Trust } from '../../pki/controller-dir.js';
import { Mirror } from './mirror.js';
import { OverlayTx, type BlockContext } from './overlay-tx.js';
import { remoteChangeOf } from './remote-change.js';

/** Compares or operations per transaction: etcd's default --max-txn-ops is 128. */
const MAX_TXN_OPS = 120;
/** Rounds of a group lost to other controllers before its callers hear "busy". */
const MAX_ROUNDS = 200;
/**
 * The lease this controller's address blocks are held under: a controller that dies stops renewing
 * it, and its blocks become free to claim this long after (their addresses stay reserved).
 */
const BLOCK_LEASE_S = 15;

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
  private readonly feed: MirrorFeed;
  private readonly fences: RequestFences;
  private pending: Decision[] = [];
  private busy = false;
  private seq = 0;
  private lastRequest: Buffer | undefined;
  private closed = false;
  private readonly onClose: (() => void)[] = [];
  private readonly blockCtx: BlockContext = { self: this.controllerId, lastGiven: new Map(), full: new Map() };
  private blockLease: { lease: Lease; id: Promise<string> } | undefined;
  /**
   * Where the time goes (the HA benchmark prints these): decisions answered, transactions committed and
   * lost to another controller, time inside etcd transactions, and which kind of key a lost one lost on.
   */
  readonly stats = { decisions: 0, commits: 0, conflicts: 0, txnMs: 0, lostOn: {} as Record<string, number> };

  private constructor(
    readonly client: Etcd3,
    private readonly o: EtcdStoreOptions,
  ) {
    this.prefix = Buffer.from(o.prefix ?? '/fleetnet/');
    this.description = `etcd:${o.urls.join(',')} (prefix ${this.prefix.toString()})`;
    this.feed = new MirrorFeed(client, this.prefix, this.mirror, o.log);
    this.fences = new RequestFences(client, o.urls, o.log);
  }

  /** Connects, checks the schema, loads the mirror, starts the watch. Unreachable: "store unavailable". */
  static async open(o: EtcdStoreOptions): Promise<EtcdStore> {
    const s = new EtcdStore(etcdClient(o), o);
    try {
      await s.checkSchema();
      await s.feed.start();
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

  private async checkSchema(): Promise<void> {
    const k = this.key(keys.schema);
    const r = await this.client.kv.range({ key: k });
    const have = r.kvs[0] ? Number(r.kvs[0].value.toString()) : undefined;
    if (have !== undefined && !(have <= SCHEMA_VERSION)) {
      throw new FleetnetError(
        'invalid',
        `the store under ${this.prefix.toString()} was written by a newer fleetnet ` +
          `(schema ${r.kvs[0]!.value.toString()}; this controller knows ${SCHEMA_VERSION})`,
        {
          hint: 'run the fleetnet version that wrote it (or newer) on every controller; nothing was changed',
        },
      );
    }
    if (have === undefined) {
      await this.client.kv.txn({
        compare: [{ key: k, target: CompareTarget.Create, result: CompareResult.Equal, create_revision: 0 }],
        success: [{ request_put: { key: k, value: Buffer.from(String(SCHEMA_VERSION)) } }],
        failure: [],
      });
    }
  }

  /** Another controller changed an attachment (id, its host), a host, or a network (its mesh: who pushes). */
  onRemoteChange(l: (c: RemoteChange) => void): void {
    this.mirror.onChange((k, v, fromWatch, old) => {
      const c = fromWatch ? remoteChangeOf(k, v, old, (id) => this.mirror.attachmentHost(id)) : undefined;
      if (c) l(c);
    });
  }

  hostOwnership(log: Logger): HostOwnership {
    return new EtcdHostLeases(this, log);
  }

  /** The trust folder's CA with join tokens, issued serials and revocations in this store (trust.ts). */
  sharedTrust(t: Trust, log: Logger): Trust {
    const shared = sharedTrust(t, this, log);
    this.onClose.push(shared.close);
    return shared.trust;
  }

  transact<T>(fn: (tx: Tx) => T): Promise<T> {
    if (this.closed)
      return Promise.reject(new FleetnetError('unavailable', 'the state store is closed (the controller is stopping)'));
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
        this.blockCtx.full.clear(); // what it found full may count reservations that never committed
        for (const d of batch) d.reject(err);
        return;
      }
      if (r === 'ok') {
        this.stats.decisions += batch.length;
        batch.forEach((d, i) => settle(d, outcomes[i]!));
        return;
      }
      if (round >= MAX_ROUNDS) {
        for (const d of batch)
          d.reject(
            new FleetnetError(
              'unavailable',
              'the store is too busy: other controllers changed the same records again and again',
              { hint: 'retry the request' },
            ),
          );
        return;
      }
    }
  }

  /** Runs decisions on one overlay, each rolled back alone when it throws (its reads still count). */
  private runGroup(batch: Decision[]): {
    group: OverlayTx;
    outcomes: Outcome[];
    taken: Decision[];
    deferred: Decision[];
  } {
    const group = new OverlayTx(this.mirror, undefined, false, this.blockCtx);
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
    const request = this.key(keys.request(this.controllerId, ++this.seq));
    const success: IRequestOp[] = [];
    let lease: string | undefined;
    for (const [k, v] of g.writes) {
      if (v !== undefined && k.startsWith(BLOCKS)) lease ??= await this.blockLeaseId();
      success.push(
        v === undefined
          ? { request_delete_range: { key: this.key(k) } }
          : { request_put: { key: this.key(k), value: Buffer.from(v), ...(k.startsWith(BLOCKS) ? { lease } : {}) } },
      );
    }
    if (!success.length && !reads.length) return 'ok';
    success.push({ request_put: { key: request, value: Buffer.from(COMMITTED) } });
    if (this.lastRequest) success.push({ request_delete_range: { key: this.lastRequest } });
    let res;
    const t0 = performance.now();
    try {
      res = await this.client.kv.txn({
        compare: [
          ...reads.map(([k, mod]) => ({
            key: this.key(k),
            target: CompareTarget.Mod,
            result: CompareResult.Equal,
            mod_revision: mod,
          })),
          // Absent: a late copy of this commit (or one after its fence, request-fence.ts) changes nothing.
          { key: request, target: CompareTarget.Create, result: CompareResult.Equal, create_revision: 0 },
        ],
        success,
        failure: [
          ...reads.map(([k]) => ({ request_range: { key: this.key(k) } })),
          { request_range: { key: request } },
        ],
      });
    } catch (err) {
      // No answer: fenced, it either had committed (its callers get their answers) or never will.
      this.ok(g, request, await this.fences.settle(request, err));
      return 'ok';
    }
    this.stats.txnMs += performance.now() - t0;
    if (res.succeeded) {
      this.ok(g, request, Number(res.header.revision));
      return 'ok';
    }
    // The client library resends a call whose connection failed: an earlier copy may have committed.
    const mine = res.responses[reads.length]?.response_range?.kvs[0];
    if (mine) {
      this.ok(g, request, Number(mine.mod_revision));
      return 'ok';
    }
    const at = Number(res.header.revision);
    this.stats.conflicts++;
    this.blockCtx.full.clear(); // what it found full may count reservations that never committed
    reads.forEach(([k, mod], i) => {
      const kv = res.responses[i]?.response_range?.kvs[0];
      if (Number(kv?.mod_revision ?? 0) !== mod) {
        const kind = k.split('/').slice(0, 2).join('/');
        this.stats.lostOn[kind] = (this.stats.lostOn[kind] ?? 0) + 1;
      }
      if (kv) this.mirror.apply(k, kv.value.toString(), Number(kv.mod_revision));
      else this.mirror.apply(k, undefined, at);
    });
    return 'conflict';
  }

  /** The lease of this controller's address blocks, granted at its first claim and kept alive by the client. */
  private blockLeaseId(): Promise<string> {
    if (!this.blockLease) {
      const lease = this.client.lease(BLOCK_LEASE_S);
      const held = { lease, id: lease.grant() };
      held.id.catch(() => undefined);
      // Lost (etcd unreachable for its TTL): its blocks are gone; the next claim takes a new lease.
      lease.on('lost', () => {
        if (this.blockLease === held) this.blockLease = undefined;
      });
      this.blockLease = held;
    }
    const held = this.blockLease;
    return held.id.catch((err: unknown) => {
      if (this.blockLease === held) this.blockLease = undefined;
      throw storeUnavailable(this.o.urls, err);
    });
  }

  private ok(g: OverlayTx, request: Buffer, rev: number): void {
    this.stats.commits++;
    this.applyWrites(g, rev);
    this.lastRequest = request;
  }

  private applyWrites(g: OverlayTx, rev: number): void {
    for (const [k, v] of g.writes) this.mirror.apply(k, v, rev);
  }

  read<T>(fn: (tx: Tx) => T): Promise<T> {
    if (!this.feed.live) return Promise.reject(storeUnavailable(this.o.urls, new Error('the watch on etcd is down')));
    try {
      return Promise.resolve(fn(new OverlayTx(this.mirror, undefined, true)));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  attachmentsJson(f?: AttachmentFilter): Promise<string> {
    if (!this.feed.live) return Promise.reject(storeUnavailable(this.o.urls, new Error('the watch on etcd is down')));
    return Promise.resolve(this.mirror.attachmentsJson(f));
  }

  attachmentsVersion(host: string): number | undefined {
    return this.feed.live ? this.mirror.attachmentsVersion(host) : undefined;
  }

  /** Removes every data key of this fleet (a failed migration into an empty prefix undoes itself). */
  async clearData(): Promise<void> {
    const start = this.key(DATA);
    await this.client.kv.deleteRange({ key: start, range_end: prefixEnd(start) });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.fences.close();
    for (const f of this.onClose) f();
    for (const d of this.pending.splice(0))
      d.reject(new FleetnetError('unavailable', 'the state store is closed (the controller is stopping)'));
    const last = this.lastRequest;
    const blockLease = this.blockLease?.lease;
    void (async () => {
      await this.feed.close();
      // A clean stop gives its address blocks up at once (their addresses stay reserved).
      await blockLease?.revoke().catch(() => undefined);
      if (last)
        await this.client
          .delete()
          .key(last)
          .catch(() => undefined);
      this.client.close();
    })();
  }
}

function settle(d: Decision, o: Outcome): void {
  if (o.ok) d.resolve(o.value);
  else d.reject(o.err);
}
