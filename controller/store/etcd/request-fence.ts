// What happened to a commit that got no answer. etcd documents that a request which timed out may
// still commit, and it can do so long after: a leader that lost its quorum keeps the proposal in
// its log, and when the members return it is often that member which becomes leader again and
// commits it. Asking "is my request id there?" does not settle it (absent now, present later).
//
// So every commit compares its request key as absent, and a commit without an answer is fenced: a
// transaction writes the request key as `fenced` unless it exists. etcd applies its log in order,
// so once the fence has committed the first attempt either committed before it (the key holds
// `1`: the callers get their answers) or can never commit (its compare fails). While etcd does
// not answer the fence either, the outcome is not known: the callers hear exactly that, and the
// fence is retried in the background until etcd answers, when the log says which way it went. A commit the
// client held back (its circuit breaker open for every member) was never sent: nothing to fence.
import { CompareResult, CompareTarget, type Etcd3 } from 'etcd3';
import type { Logger } from 'pino';
import { heldBack, NOT_SENT, storeUnavailable } from './connect.js';

export const COMMITTED = '1';
const FENCED = 'fenced';

/** The revision the request committed at, or undefined when it never will. Throws when etcd gives no answer. */
export async function fence(client: Etcd3, key: Buffer): Promise<number | undefined> {
  const r = await client.kv.txn({
    compare: [{ key, target: CompareTarget.Create, result: CompareResult.Equal, create_revision: 0 }],
    success: [{ request_put: { key, value: Buffer.from(FENCED) } }],
    failure: [{ request_range: { key } }],
  });
  if (r.succeeded) return undefined;
  const kv = r.responses[0]?.response_range?.kvs[0];
  return kv && kv.value.toString() === COMMITTED ? Number(kv.mod_revision) : undefined;
}

export class RequestFences {
  private readonly open = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly client: Etcd3,
    private readonly urls: string[],
    private readonly log: Logger,
    private readonly retryMs = 1000,
  ) {}

  /** Requests whose outcome is not known yet (their fence is being retried). */
  get inDoubt(): number {
    return this.open.size;
  }

  /**
   * A commit of `request` (its full key) got no answer (`err`): the revision it committed at, or a
   * "store unavailable" error that says whether the change can still take effect.
   */
  async settle(request: Buffer, err: unknown): Promise<number> {
    // Held back by the client (no member's breaker let it through): it never reached etcd, nothing to fence.
    if (heldBack(err)) throw storeUnavailable(this.urls, err, NOT_SENT);
    let rev: number | undefined;
    try {
      rev = await fence(this.client, request);
    } catch {
      this.open.add(request.toString('latin1'));
      this.schedule();
      throw storeUnavailable(this.urls, err, 'this change may still take effect when etcd has a quorum again');
    }
    if (rev === undefined) throw storeUnavailable(this.urls, err, 'nothing was changed');
    this.log.info({ request: request.toString() }, 'a commit without an answer had committed (its request id says so)');
    return rev;
  }

  private schedule(): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => void this.retry(), this.retryMs);
  }

  private async retry(): Promise<void> {
    this.timer = undefined;
    for (const k of [...this.open]) {
      if (this.closed) return;
      try {
        const rev = await fence(this.client, Buffer.from(k, 'latin1'));
        this.open.delete(k);
        if (rev === undefined) this.log.info({ request: k }, 'fenced: a change answered "unavailable" never happens');
        else this.log.warn({ request: k, rev }, 'a change answered "unavailable, may still take effect" took effect');
      } catch {
        break; // etcd still does not answer
      }
    }
    if (this.open.size) this.schedule();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }
}
