// Level-triggered reconcile of every host: the desired attachments in the store against the
// agent's List. A full pass runs periodically, when a host is (re)registered or was unreachable,
// and after a backoff when the agent did not answer; a change to one attachment runs a targeted
// pass for it alone (the agent's Attach and Detach are idempotent, so it needs no List first).
// One pass per host at a time; hosts run in parallel.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import { describeError, FleetnetError } from '../../common/errors.js';
import type { Interface, LabelledContainer } from '../../proto/gen/fleetnet/v1/agent.js';
import { ATTACHMENT_ID_PREFIX } from '../fleet/attachments.js';
import type { DispatchObserver } from '../events/fleet-events.js';
import type { Store } from '../store/store.js';
import type { AttachmentRecord, HostRecord } from '../store/types.js';
import { isUnreachable, type AgentLink, type AgentLinkFactory } from './agent-link.js';
import { convergeOne, type ConvergeContext } from './converge.js';
import { HostStatus } from './host-status.js';
import { applyLabelled } from './labels.js';
import { agentMatches, reportDigest } from './to-agent.js';

export interface DispatcherOptions {
  store: Store;
  log: Logger;
  links: AgentLinkFactory;
  resyncMs: number;
  backoffMinMs: number;
  backoffMaxMs: number;
  listTimeoutMs: number;
  attachTimeoutMs: number;
  /** Attach/detach orders in flight per host. */
  parallel: number;
  now?: () => number;
  /** Several controllers (etcd): run only for the hosts this one owns (controller/dispatch/ownership.ts). */
  owns?: (host: string) => boolean;
  /** Told of passes (metrics) and of changes: attach, detach, host up/down (`fleetnet events`). */
  observer?: DispatchObserver;
  /**
   * A pass that finds a host as it was writes nothing, but its last contact at least this often
   * (default a minute): an unchanged fleet costs its store no write per host and pass.
   */
  seenEveryMs?: number;
}

interface HostLoop {
  running: boolean;
  again: boolean;
  /** The next pass compares everything; else only `dirty`. */
  full: boolean;
  dirty: Set<string>;
  timer?: NodeJS.Timeout;
  backoffMs: number;
  link?: { addr: string; link: AgentLink };
  /** The last full pass had nothing to do: what it found (the store's version, the agent's report). */
  quiet?: { version: number; report: string; generation: number };
}

class Unreachable extends Error {}

export class Dispatcher {
  private readonly loops = new Map<string, HostLoop>();
  private readonly events = new EventEmitter();
  private stopped = false;
  /** Aborted by stop(): the calls to agents in flight are cancelled, and waits for attachments end. */
  private readonly stopping = new AbortController();
  private readonly now: () => number;
  private readonly cc: ConvergeContext;
  private readonly hosts: HostStatus;

  constructor(private readonly o: DispatcherOptions) {
    this.events.setMaxListeners(0);
    this.now = o.now ?? Date.now;
    this.hosts = new HostStatus({
      store: o.store,
      now: this.now,
      seenEveryMs: o.seenEveryMs ?? 60_000,
      ...(o.observer ? { observer: o.observer } : {}),
    });
    this.cc = {
      store: o.store,
      log: o.log,
      now: this.now,
      attachTimeoutMs: o.attachTimeoutMs,
      signal: this.stopping.signal,
      settled: (id) => this.emit(id),
      tell: (kind, a, container) => this.tell(kind, a, container),
    };
  }

  /** Rebuilt from the store: every host gets a pass. */
  async start(): Promise<void> {
    const hosts = await this.o.store.read((tx) => tx.listHosts());
    for (const h of hosts) this.kick(h.name);
  }

  private loopOf(host: string): HostLoop {
    let l = this.loops.get(host);
    if (!l) this.loops.set(host, (l = { running: false, again: false, full: true, dirty: new Set(), backoffMs: 0 }));
    return l;
  }

  /** stop() was called (a wait that ended with its attachment pending ended because of it). */
  readonly isStopping = () => this.stopped;

  /** Cancels the calls to agents in flight, ends every wait, lets the passes wind down (up to 5 s). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort(new FleetnetError('unavailable', 'the controller is shutting down'));
    for (const l of this.loops.values()) {
      clearTimeout(l.timer);
      l.link?.link.close();
    }
    const deadline = this.now() + 5000;
    while ([...this.loops.values()].some((l) => l.running) && this.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
  }

  /**
   * Something changed for this host (for attachment `id`, or anything): run a pass now, or right
   * after the one in progress. `force` ignores the backoff (the timer's own kick).
   */
  kick(host: string, o: { id?: string; force?: boolean } = {}): void {
    if (this.stopped || (this.o.owns && !this.o.owns(host))) return;
    const l = this.loopOf(host);
    if (o.id) l.dirty.add(o.id);
    else l.full = true;
    if (l.running) {
      l.again = true;
      return;
    }
    // The agent did not answer: wait for the backoff timer instead of hammering it per request.
    if (l.backoffMs > 0 && l.timer && !o.force) return;
    clearTimeout(l.timer);
    l.timer = undefined;
    void this.run(host, l);
  }

  forget(host: string): void {
    const l = this.loops.get(host);
    if (!l) return;
    clearTimeout(l.timer);
    l.link?.link.close();
    this.loops.delete(host);
  }

  /**
   * Resolves when the attachment leaves `pending`/`detaching` (or is gone), or after timeoutMs, with
   * the record as it then is; undefined when it is gone, or at once when timeoutMs is 0.
   */
  async waitSettled(id: string, timeoutMs: number): Promise<AttachmentRecord | undefined> {
    const settled = (a: AttachmentRecord | undefined) => !a || (a.state !== 'pending' && a.state !== 'detaching');
    const read = () => this.o.store.read((tx) => tx.getAttachment(id));
    if (timeoutMs <= 0) return undefined; // the caller has the record it just wrote
    let a = await read();
    if (settled(a) || this.stopped) return a;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.events.off(id, onEvent);
        this.stopping.signal.removeEventListener('abort', done);
        void read().then(resolve, () => resolve(a));
      };
      // A read that fails (the store unavailable) waits for the next event or the timer.
      const onEvent = () =>
        void read().then(
          (x) => {
            a = x;
            if (settled(x)) done();
          },
          () => undefined,
        );
      const timer = setTimeout(done, timeoutMs);
      this.events.on(id, onEvent);
      this.stopping.signal.addEventListener('abort', done, { once: true });
    });
  }

  private async run(host: string, l: HostLoop): Promise<void> {
    l.running = true;
    let retryInMs = this.o.resyncMs;
    try {
      do {
        l.again = false;
        if (l.full) {
          l.full = false;
          l.dirty.clear();
          await this.pass(host, l);
        } else if (l.dirty.size) {
          const ids = [...l.dirty];
          l.dirty.clear();
          await this.targeted(host, l, ids);
        }
      } while (l.again && !this.stopped);
      l.backoffMs = 0;
    } catch (err) {
      if (!(err instanceof Unreachable)) this.o.log.error({ host, err: describeError(err) }, 'reconcile pass failed');
      l.full = true; // after a failure, compare everything
      l.backoffMs = Math.min(this.o.backoffMaxMs, Math.max(this.o.backoffMinMs, l.backoffMs * 2));
      retryInMs = l.backoffMs;
      l.link?.link.close(); // a fresh channel next time, without grpc's own reconnect backoff
      l.link = undefined;
    } finally {
      l.running = false;
    }
    if (this.stopped || this.loops.get(host) !== l) return;
    l.timer = setTimeout(() => this.kick(host, { force: true }), retryInMs);
    l.timer.unref();
  }

  /** The link to a host's agent (for `check`); undefined when the host is not known. */
  async linkOf(host: string): Promise<AgentLink | undefined> {
    const h = await this.o.store.read((tx) => tx.getHost(host));
    return h ? this.linkFor(h, this.loopOf(host)) : undefined;
  }

  /** Runs a full pass for a host now and resolves when it is done (check --fix). */
  async passNow(host: string): Promise<void> {
    const l = this.loopOf(host);
    for (let i = 0; l.running && i < 500; i++) await new Promise((r) => setTimeout(r, 20));
    l.full = true;
    l.quiet = undefined; // compared record by record
    this.kick(host, { force: true });
    for (let i = 0; l.running && i < 1500; i++) await new Promise((r) => setTimeout(r, 20));
  }

  private linkFor(h: HostRecord, l: HostLoop): AgentLink {
    if (l.link?.addr !== h.agentAddr) {
      l.link?.link.close();
      l.link = { addr: h.agentAddr, link: this.o.links(h.agentAddr, h.name) };
    }
    return l.link.link;
  }

  private async pass(hostName: string, l: HostLoop): Promise<void> {
    const { store, log } = this.o;
    const host = await store.read((tx) => tx.getHost(hostName));
    if (!host) return this.forget(hostName);
    const link = this.linkFor(host, l);
    const signal = this.stopping.signal;
    let actual: Interface[];
    let labelled: LabelledContainer[];
    let probe: { version: string; caps: HostRecord['capabilities'] } | undefined;
    try {
      if (host.state !== 'up') {
        // Capabilities are informative: an agent that cannot report them is still reachable.
        const [h, c] = await Promise.all([
          link.health(this.o.listTimeoutMs, signal),
          link.capabilities(this.o.attachTimeoutMs, signal).catch((err: unknown) => {
            if (isUnreachable(err)) throw err;
            return { capabilities: [] };
          }),
        ]);
        probe = { version: h.version, caps: c.capabilities };
      }
      ({ interfaces: actual, labelled } = await link.list(this.o.listTimeoutMs, signal));
      labelled ??= [];
    } catch (err) {
      if (this.stopped) throw new Unreachable(); // cancelled by stop(): the agent is not known to be down
      const why = describeError(err);
      await this.hosts.note(host, { state: 'unreachable', lastError: why });
      if (host.state !== 'unreachable')
        log.warn({ host: hostName, err: why }, 'agent unreachable; will retry with backoff');
      throw new Unreachable();
    }
    // Nothing changed since a pass that had nothing to do (its attachments in the store, what the
    // agent reports, no labels to act on): this one has nothing to do either, and reads no record.
    const version = store.attachmentsVersion?.(hostName);
    const report = labelled.length || version === undefined ? undefined : reportDigest(actual);
    const q = l.quiet;
    l.quiet = undefined;
    if (q && !probe && q.version === version && q.report === report && q.generation === host.generation) {
      l.quiet = q;
      await this.hosts.note(host, { state: 'up', lastError: '', lastSeenMs: this.now() });
      return this.o.observer?.passDone?.(hostName, 0);
    }
    // The desired set is read after the agent answered (and at its generation or later): a host
    // that is down costs one connection attempt per backoff, not a scan of its attachments.
    // Reservations (CNI IPAM) are no agent's business: the interface is someone else's.
    const readDesired = () =>
      store.read((tx) => ({
        generation: tx.getHost(hostName)?.generation ?? host.generation,
        desired: tx.listAttachments({ host: hostName }).filter((a) => !a.reserveOnly),
      }));
    let snap = await readDesired();
    // Labelled containers first: what their labels ask for converges in this same pass.
    if ((await applyLabelled({ store, log, now: this.now }, hostName, labelled, snap.desired)).changed)
      snap = await readDesired();
    const byId = new Map(actual.map((i) => [i.attachmentId, i]));
    let unreachable: unknown;
    const work = snap.desired.map((a) => async () => {
      if (unreachable) return;
      try {
        await convergeOne(this.cc, a, byId.get(a.id), link);
      } catch (err) {
        if (isUnreachable(err)) unreachable = err;
        else throw err;
      }
    });
    const desiredIds = new Set(snap.desired.map((a) => a.id));
    let drift = snap.desired.filter((a) => {
      const have = byId.get(a.id);
      if (a.desired === 'absent') return have !== undefined;
      return !(have && agentMatches(a, have) && (have.state === 'up' || have.state === ''));
    }).length;
    for (const i of actual) {
      if (!i.attachmentId.startsWith(ATTACHMENT_ID_PREFIX) || desiredIds.has(i.attachmentId)) continue;
      // Made for an attachment this fleet no longer has (e.g. detached while the reply was lost).
      drift++;
      work.push(async () => {
        log.info({ host: hostName, attachmentId: i.attachmentId }, 'removing an interface no attachment wants');
        await link
          .detach(
            {
              target: { kind: 'auto', value: i.container?.name ?? '' },
              ifname: i.ifname,
              attachmentId: i.attachmentId,
            },
            this.o.attachTimeoutMs,
            signal,
          )
          .catch((err: unknown) => {
            if (isUnreachable(err)) unreachable = err;
          });
      });
    }
    await runLimited(work, this.o.parallel);
    if (unreachable) {
      if (!this.stopped) await this.hosts.note(host, { state: 'unreachable', lastError: describeError(unreachable) });
      throw new Unreachable();
    }
    await this.hosts.note(host, {
      state: 'up',
      lastError: '',
      lastSeenMs: this.now(),
      ...(probe ? { agentVersion: probe.version, capabilities: probe.caps } : {}),
      observedGeneration: snap.generation,
    });
    if (drift === 0 && version !== undefined && report !== undefined)
      l.quiet = { version, report, generation: snap.generation };
    this.o.observer?.passDone?.(hostName, drift);
  }

  /** Only the attachments that changed, on a host known to be up. */
  private async targeted(hostName: string, l: HostLoop, ids: string[]): Promise<void> {
    const snap = await this.o.store.read((tx) => ({
      host: tx.getHost(hostName),
      atts: ids.map((id) => tx.getAttachment(id)),
    }));
    if (!snap.host) return this.forget(hostName);
    if (snap.host.state !== 'up') return this.pass(hostName, l);
    const link = this.linkFor(snap.host, l);
    let unreachable: unknown;
    const mine = (a: AttachmentRecord | undefined): a is AttachmentRecord =>
      a !== undefined && a.host === hostName && !a.reserveOnly;
    const work = snap.atts.filter(mine).map((a) => async () => {
      if (unreachable) return;
      try {
        await convergeOne(this.cc, a, undefined, link, false);
      } catch (err) {
        if (isUnreachable(err)) unreachable = err;
        else throw err;
      }
    });
    await runLimited(work, this.o.parallel);
    if (unreachable) {
      if (!this.stopped)
        await this.hosts.note(snap.host, { state: 'unreachable', lastError: describeError(unreachable) });
      throw new Unreachable();
    }
  }

  /** Another controller settled or changed this attachment: wake whoever waits for it here. */
  notify(id: string): void {
    this.emit(id);
  }

  private emit(id: string): void {
    this.events.emit(id);
  }

  private tell(kind: 'attach' | 'detach', a: AttachmentRecord, container = a.container?.name): void {
    this.o.observer?.event?.({
      kind,
      timeMs: this.now(),
      host: a.host,
      attachmentId: a.id,
      ifname: a.ifname,
      ...(a.net ? { network: a.net } : {}),
      ...(container || a.target.value ? { container: container || a.target.value } : {}),
    });
  }
}

async function runLimited(work: (() => Promise<void>)[], parallel: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < work.length) await work[next++]!();
  };
  await Promise.all(Array.from({ length: Math.min(parallel, work.length) }, worker));
}
