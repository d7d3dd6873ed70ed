// Fills the mirror with one paged read at a fixed revision and keeps it current with one watch on
// the data keys. The feed resumes by itself:
// - when the member it watched dies (or the stream drops), a new watch starts right after the last
//   revision the mirror holds. The client library would resume by itself, but from the revision
//   of its watch's creation answer, which skips events when the stream drops again while it is
//   still catching up; starting our own from the mirror's revision cannot skip anything (events
//   it has already seen are ignored by revision);
// - when etcd cancels the watch (its start revision was compacted away), everything is read again
//   at one revision: keys that are gone then are removed from the mirror, and a watch starts there.
// While no watch is live, `live` is false: the store refuses reads rather than serve a stale copy.
import type { Etcd3, IKeyValue, Watcher } from 'etcd3';
import type { Logger } from 'pino';
import { DATA, prefixEnd } from './keys.js';
import type { Mirror } from './mirror.js';

/** Keys per page when the mirror is loaded (a page stays far below gRPC's 4 MiB message limit). */
const PAGE = 2000;

export class MirrorFeed {
  private watcher: Watcher | undefined;
  private up = false;
  private closed = false;
  /** Bumped whenever a watch is replaced: events of an older one are ignored. */
  private epoch = 0;

  constructor(
    private readonly client: Etcd3,
    private readonly prefix: Buffer,
    private readonly mirror: Mirror,
    private readonly log: Logger,
  ) {}

  get live(): boolean {
    return this.up && !this.closed;
  }

  /** The first load and watch; throws when etcd does not answer. */
  async start(): Promise<void> {
    await this.watchFrom(await this.load());
  }

  private unkey(b: Buffer): string {
    return b.subarray(this.prefix.length).toString();
  }

  /** Every data key at one revision, page by page; keys the mirror holds that are gone go. Returns the revision. */
  private async load(): Promise<number> {
    const start = Buffer.concat([this.prefix, Buffer.from(DATA)]);
    const end = prefixEnd(start);
    const present = new Set<string>();
    let key = start;
    let rev = 0;
    for (;;) {
      const r = await this.client.kv.range({ key, range_end: end, limit: PAGE, ...(rev ? { revision: rev } : {}) });
      if (!rev) rev = Number(r.header.revision);
      for (const kv of r.kvs) {
        const k = this.unkey(kv.key);
        present.add(k);
        this.mirror.apply(k, kv.value.toString(), Number(kv.mod_revision), true);
      }
      if (!r.more || !r.kvs.length) break;
      key = Buffer.concat([r.kvs[r.kvs.length - 1]!.key, Buffer.from([0])]);
    }
    const gone = [...this.mirror.all()].map(([k]) => k).filter((k) => !present.has(k));
    for (const k of gone) this.mirror.apply(k, undefined, rev, true);
    this.mirror.watchedTo(rev);
    return rev;
  }

  /** A watch from rev + 1: resolves once etcd created it, rejects when etcd cancels it (start compacted away). */
  private async watchFrom(rev: number): Promise<void> {
    const epoch = ++this.epoch;
    const start = Buffer.concat([this.prefix, Buffer.from(DATA)]);
    // watcher(), not create(): the feed holds it while it connects, so close() can cancel it then too.
    const w = this.client
      .watch()
      .prefix(start)
      .startRevision(String(rev + 1))
      .watcher();
    this.watcher = w;
    const fromWatch = (kv: IKeyValue, put: boolean) => {
      if (epoch !== this.epoch) return;
      const mod = Number(kv.mod_revision);
      const k = this.unkey(kv.key);
      // This controller's own commits were applied when etcd answered them: their echo's value is not decoded.
      if (this.mirror.isNewer(k, mod)) this.mirror.apply(k, put ? kv.value.toString() : undefined, mod, true);
      this.mirror.watchedTo(mod);
    };
    w.on('put', (kv) => fromWatch(kv, true));
    w.on('delete', (kv) => fromWatch(kv, false));
    try {
      await new Promise<void>((resolve, reject) => {
        w.once('connected', () => resolve());
        w.once('error', reject);
      });
    } catch (err) {
      if (this.watcher === w) this.watcher = undefined;
      void cancelSoon(w);
      throw err;
    }
    if (this.closed || epoch !== this.epoch) return;
    this.up = true;
    w.on('disconnected', (err) => this.lost(w, epoch, `etcd watch lost (${err.message}); reads wait for it`, false));
    w.on('error', (err) => this.lost(w, epoch, `etcd cancelled the watch (${err.message}); reading all again`, true));
  }

  /** The watch `w` is gone: a new one from the mirror's revision, or after a full read. */
  private lost(w: Watcher, epoch: number, why: string, reload: boolean): void {
    if (epoch !== this.epoch || this.closed) return;
    this.epoch++;
    this.up = false;
    this.log.warn(why);
    if (this.watcher === w) this.watcher = undefined;
    void cancelSoon(w);
    void this.resume(reload);
  }

  private async resume(reload: boolean): Promise<void> {
    for (let delayMs = 100; !this.closed; delayMs = Math.min(delayMs * 2, 2000)) {
      try {
        const rev = reload ? await this.load() : this.mirror.watchRev;
        // watchFrom fails only when etcd cancels the watch (its start was compacted away): read all next time.
        await this.watchFrom(rev).catch((err: unknown) => {
          reload = true;
          throw err;
        });
        this.log.info({ rev: this.mirror.watchRev }, 'etcd watch back');
        return;
      } catch (err) {
        this.log.debug({ err: String(err) }, 'etcd watch not back yet');
        await new Promise((r) => setTimeout(r, delayMs));
      }
    }
  }

  /** Cancels the watch; resolves within a second even when etcd does not answer (the client is closed next). */
  close(): Promise<void> {
    this.closed = true;
    this.epoch++;
    return this.watcher ? cancelSoon(this.watcher) : Promise.resolve();
  }
}

/**
 * A watcher's cancel, given up after waitMs: the library's cancel waits for etcd's answer, or, for a
 * watcher whose stream dropped, for events that never come to a watcher it no longer holds.
 */
export function cancelSoon(w: Watcher, waitMs = 1000): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setTimeout(resolve, waitMs);
    t.unref();
    w.cancel()
      .then(resolve, () => resolve())
      .finally(() => clearTimeout(t));
  });
}
