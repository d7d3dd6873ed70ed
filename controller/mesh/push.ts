// Pushes each host its part of the fleet's mesh (ApplyMesh) and asks for tunnel state
// (MeshStatus). Desired state, not commands: a push always sends the host's whole plan from the
// store under a new generation, so a lost push is repaired by the next one; an agent that did not
// answer is retried with backoff, and every meshed host is pushed periodically (unless its agent
// recently acknowledged that very plan: see RESEND_UNCHANGED_EVERY).
// With several controllers (`owns`), a host is pushed only by the controller that owns it: two
// pushers could reach an agent out of order, an older plan under a newer generation. A push asked
// of another controller is left to the owner, which sees the change through its watch.
import type { Logger } from 'pino';
import { describeError, FleetnetError } from '../../common/errors.js';
import { AgentRpcClient, type RpcChannel } from '../../common/rpc/agent-client.js';
import type { MeshReply, MeshStatusReply } from '../../proto/gen/fleetnet/v1/agent.js';
import type { Store } from '../store/store.js';
import type { HostRecord } from '../store/types.js';
import { meshedHosts, planInputFromTx } from './fleet-mesh.js';
import { planHosts, type HostPlan } from '../../common/mesh/plan.js';
import { agentMeshSpec } from '../../common/mesh/to-agent.js';

export type MeshAgentLink = Pick<AgentRpcClient, 'applyMesh' | 'meshStatus' | 'close'>;

export type MeshLinkFactory = (addr: string, hostName: string) => MeshAgentLink;

/** The one agent client, over the same channel as the dispatcher's links (mutual TLS when the controller has a CA). */
export const grpcMeshLink = (addr: string, channel?: RpcChannel): MeshAgentLink => new AgentRpcClient(addr, channel);

export interface MeshPusherOptions {
  store: Store;
  log: Logger;
  links?: MeshLinkFactory;
  resyncMs: number;
  timeoutMs?: number;
  backoffMaxMs?: number;
  now?: () => number;
  /** Several controllers: whether this one owns the host (only the owner pushes to it). */
  owns?: (host: string) => boolean;
  /** The planner (default planHosts; tests count its calls). */
  planHosts?: typeof planHosts;
}

export interface HostStatusQuery {
  waitUpMs?: number;
  signal?: AbortSignal;
}

/** A host's tunnels as its agent reported them, or why it did not. */
export interface HostTunnels {
  host: string;
  reply?: MeshStatusReply;
  error: string;
}

export interface HostMeshState {
  host: string;
  /** 0: not pushed from here (another controller owns the host and pushes it). */
  generation: number;
  /** Every network's error the agent answered, or why the push failed. */
  error: string;
  /** A push that failed (no reply): its error's kind. */
  errorKind?: string;
  reply?: MeshReply;
}

/** A host's record (undefined: not registered) and its plan, as one store read found them. */
interface HostPlanNow {
  h: HostRecord | undefined;
  plan: HostPlan;
}

/** A host's pushes: the one in flight and the one waiting for it (forced when any asker needs a real push). */
interface PushSlot {
  running: Promise<HostMeshState | undefined>;
  queued?: Promise<HostMeshState>;
  queuedWant?: { force: boolean };
}

/**
 * A periodic push skips a host whose agent acknowledged the same plan, cleanly, within this many
 * periods: at 50 hosts re-sending unchanged plans every period was most of the controller's garbage
 * (its RSS grew ~4 MB/s at rest, lab resync 2 s) and of the agents' work. The agent keeps its spec on
 * disk and repairs drift itself; the slower re-send still reaches one that lost its state.
 */
export const RESEND_UNCHANGED_EVERY = 10;

export class MeshPusher {
  private readonly links = new Map<string, { addr: string; link: MeshAgentLink }>();
  private readonly state = new Map<string, HostMeshState>();
  private readonly retry = new Map<string, { timer: NodeJS.Timeout; backoffMs: number }>();
  private readonly slots = new Map<string, PushSlot>();
  /** Per host, the plan (and address) its agent last acknowledged with no error, and when. */
  private readonly acked = new Map<string, { key: string; atMs: number }>();
  /** Hosts a join holds back until its joining hosts have answered (hold): the periodic push leaves them to it. */
  private readonly held = new Map<string, number>();
  /** The hosts whose pushes start in this turn of the event loop, and their plans from one store read. */
  private batch: { hosts: Set<string>; plans: Promise<Map<string, HostPlanNow>> } | undefined;
  /** The plans last made, by host, and the planning input (as JSON) they were made from (plansFor). */
  private plans: { input: string; byHost: Map<string, HostPlan> } | undefined;
  private readonly planJson = new WeakMap<HostPlan, string>();
  private lastGeneration = 0;
  private timer: NodeJS.Timeout | undefined;
  private soon: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Aborted by stop(): the calls to agents in flight are cancelled. */
  private readonly stopping = new AbortController();

  constructor(private readonly o: MeshPusherOptions) {}

  private link(host: string, addr: string): MeshAgentLink {
    const cur = this.links.get(host);
    if (cur && cur.addr === addr) return cur.link;
    cur?.link.close();
    const link = this.o.links ? this.o.links(addr, host) : grpcMeshLink(addr);
    this.links.set(host, { addr, link });
    return link;
  }

  /** Generations only grow, also across controller restarts (they start from the clock). */
  private nextGeneration(): number {
    this.lastGeneration = Math.max(this.lastGeneration + 1, (this.o.now ?? Date.now)());
    return this.lastGeneration;
  }

  /**
   * Pushes each named host its whole plan now; resolves when every agent answered or failed.
   * ifChanged (the periodic push): not a host whose agent recently acknowledged this very plan.
   */
  async push(hosts: readonly string[], o: { ifChanged?: boolean } = {}): Promise<HostMeshState[]> {
    return Promise.all([...new Set(hosts)].map((h) => this.pushOne(h, !o.ifChanged)));
  }

  /**
   * Per host, one push in flight and at most one waiting: a push asked for while one waits joins it.
   * The waiting push reads the plan from the store when it starts, so it carries every change made
   * before it ran (no lost update), and N quick changes cost two pushes, not N.
   */
  private pushOne(host: string, force = true): Promise<HostMeshState> {
    const slot = this.slots.get(host);
    if (slot?.queued) {
      if (force) slot.queuedWant!.force = true;
      return slot.queued;
    }
    const want = { force };
    const s: PushSlot = slot ?? { running: Promise.resolve(undefined) };
    const p: Promise<HostMeshState> = s.running
      .then(
        () => undefined,
        () => undefined,
      )
      .then(() => {
        if (s.queued === p) s.queued = undefined;
        s.running = p;
        return this.doPush(host, want.force);
      });
    if (slot) {
      slot.queued = p;
      slot.queuedWant = want;
    } else {
      s.running = p;
      this.slots.set(host, s);
    }
    // Cleanup on either outcome; the outcome itself is the caller's (a `finally` here would be a second,
    // unhandled rejection when a push fails, e.g. on a store read while the store is unavailable).
    const free = () => {
      if (this.slots.get(host) === s && s.running === p && !s.queued) this.slots.delete(host);
    };
    p.then(free, free);
    return p;
  }

  private async doPush(host: string, force: boolean): Promise<HostMeshState> {
    if (this.stopped) return { host, generation: 0, error: 'the controller is stopping' };
    if (this.o.owns && !this.o.owns(host)) return { host, generation: 0, error: '' };
    const t0 = performance.now();
    const { h, plan } = await this.planNow(host);
    if (!h) return { host, generation: 0, error: 'host is not registered' };
    const key = this.ackKey(h.agentAddr, plan);
    const nowMs = (this.o.now ?? Date.now)();
    const ack = this.acked.get(host);
    const last = this.state.get(host);
    if (!force && last && ack?.key === key && nowMs - ack.atMs < RESEND_UNCHANGED_EVERY * this.o.resyncMs) return last;
    this.acked.delete(host);
    const generation = this.nextGeneration();
    let st: HostMeshState;
    try {
      const reply = await this.link(host, h.agentAddr).applyMesh(
        agentMeshSpec(plan, generation),
        this.o.timeoutMs ?? 30_000,
        this.stopping.signal,
      );
      const error = reply.errors.map((e) => `${e.network}: ${e.message}`).join('; ');
      st = { host, generation, error, reply };
      if (!error) this.acked.set(host, { key, atMs: nowMs });
      this.clearRetry(host);
      if (reply.changes)
        this.o.log.info(
          { host, generation, added: reply.added, removed: reply.removed, ms: Math.round(performance.now() - t0) },
          'mesh pushed',
        );
    } catch (err) {
      st = {
        host,
        generation,
        error: describeError(err),
        errorKind: err instanceof FleetnetError ? err.kind : 'failed',
      };
      if (this.stopped) return st;
      this.o.log.warn({ host, err: st.error }, 'mesh push failed; retrying with backoff');
      this.scheduleRetry(host);
    }
    this.state.set(host, st);
    return st;
  }

  /**
   * The host's record and plan, read when its push starts. Pushes that start in the same turn of the event loop
   * (a join's members, a periodic pass) share one store read and one planning: each of N pushes reading and
   * planning the whole fleet for itself was most of a fan-out's time at 50 hosts. The read runs after they
   * have all started, so it carries every change made before any of them was asked for.
   */
  private planNow(host: string): Promise<HostPlanNow> {
    if (!this.batch) {
      const hosts = new Set<string>();
      const plans = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
        this.batch = undefined; // a push starting from now reads afresh
        return this.o.store.read((tx) => {
          const byHost = this.plansFor([...hosts], planInputFromTx(tx));
          return new Map([...hosts].map((n) => [n, { h: tx.getHost(n), plan: byHost.get(n)! }]));
        });
      });
      this.batch = { hosts, plans };
    }
    const b = this.batch;
    b.hosts.add(host);
    return b.plans.then((m) => m.get(host)!);
  }

  /**
   * The plans of these hosts from this planning input: the plans made before while the input is the same (the
   * plan is a pure function of it), else made now. At 50 hosts every periodic push planned the whole fleet again
   * (2,450 tunnels, a hash each) to find it unchanged.
   */
  private plansFor(names: string[], input: ReturnType<typeof planInputFromTx>): Map<string, HostPlan> {
    const key = JSON.stringify(input);
    if (this.plans?.input !== key) this.plans = { input: key, byHost: new Map() };
    const byHost = this.plans.byHost;
    const missing = names.filter((n) => !byHost.has(n));
    const plan = this.o.planHosts ?? planHosts;
    if (missing.length) for (const [n, p] of plan(missing, input.hosts, input.networks)) byHost.set(n, p);
    return byHost;
  }

  /** What an agent's acknowledgement is of: its address and its plan (the plan's JSON made once per plan). */
  private ackKey(addr: string, plan: HostPlan): string {
    let json = this.planJson.get(plan);
    if (json === undefined) this.planJson.set(plan, (json = JSON.stringify(plan)));
    return `${addr}\0${json}`;
  }

  private scheduleRetry(host: string): void {
    const r = this.retry.get(host);
    const backoffMs = Math.min((r?.backoffMs ?? 250) * 2, this.o.backoffMaxMs ?? 10_000);
    if (r) clearTimeout(r.timer);
    const timer = setTimeout(
      () =>
        this.pushOne(host).catch((err: unknown) => {
          if (!this.stopped) this.o.log.warn({ host, err: describeError(err) }, 'mesh push retry failed');
        }),
      backoffMs,
    );
    timer.unref();
    this.retry.set(host, { timer, backoffMs });
  }

  private clearRetry(host: string): void {
    const r = this.retry.get(host);
    if (r) clearTimeout(r.timer);
    this.retry.delete(host);
  }

  /**
   * Pushes every meshed host, and every host pushed before (one that left its last mesh gets its empty
   * plan: its tunnels go, also when the mesh change was taken by another controller).
   */
  private async resync(): Promise<void> {
    if (this.stopped) return;
    try {
      const meshed = await this.o.store.read((tx) => meshedHosts(tx));
      const hosts = [...meshed, ...this.state.keys()].filter((h) => !this.held.has(h));
      const states = await this.push(hosts, { ifChanged: true });
      for (const s of states) {
        if (meshed.includes(s.host) || !s.generation || s.error) continue;
        this.state.delete(s.host);
        this.acked.delete(s.host);
      }
    } catch (err) {
      if (!this.stopped) this.o.log.warn({ err: describeError(err) }, 'mesh resync failed');
    }
  }

  /**
   * Keeps the periodic push off these hosts until the returned release is called: a join pushes its members
   * itself, once the joining hosts have answered, and a periodic push in between would run ahead of it.
   */
  hold(hosts: readonly string[]): () => void {
    for (const h of hosts) this.held.set(h, (this.held.get(h) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const h of hosts) {
        const n = (this.held.get(h) ?? 1) - 1;
        if (n > 0) this.held.set(h, n);
        else this.held.delete(h);
      }
    };
  }

  /** Every meshed host gets its plan now and then every resyncMs. */
  async start(): Promise<void> {
    void this.resync();
    this.timer = setInterval(() => void this.resync(), this.o.resyncMs);
    this.timer.unref();
  }

  /** A resync soon (the mesh changed elsewhere, or this controller gained a host); several asks make one. */
  resyncSoon(): void {
    if (this.soon || this.stopped) return;
    this.soon = setTimeout(() => {
      this.soon = undefined;
      void this.resync();
    }, 20);
    this.soon.unref();
  }

  /** Another controller owns the host now: no more retries from here. */
  forget(host: string): void {
    this.clearRetry(host);
    this.state.delete(host);
    this.acked.delete(host);
  }

  stop(): void {
    this.stopped = true;
    this.stopping.abort();
    if (this.timer) clearInterval(this.timer);
    clearTimeout(this.soon);
    for (const r of this.retry.values()) clearTimeout(r.timer);
    this.retry.clear();
    for (const l of this.links.values()) l.link.close();
    this.links.clear();
  }

  last(host: string): HostMeshState | undefined {
    return this.state.get(host);
  }

  /**
   * Each member host's tunnel state, asked of its agent (in parallel, bounded by the timeout). With
   * waitUpMs each agent answers once its tunnels are up (or the wait ran out): the last answer is
   * the moment the whole mesh is up, learnt from the agents as it happens, not by asking again.
   */
  async status(net?: string, o: HostStatusQuery = {}): Promise<HostTunnels[]> {
    return Promise.all((await this.members(net)).map((h) => this.hostStatus(h, net, o)));
  }

  /** The registered members of the network's mesh (of every mesh without one), sorted. */
  members(net?: string): Promise<string[]> {
    return this.o.store.read((tx) =>
      tx
        .listNetworks()
        .filter((n) => n.mesh && (!net || n.name === net))
        .flatMap((n) => n.mesh!.members)
        .filter((m, i, a) => a.indexOf(m) === i)
        .sort()
        .filter((m) => tx.getHost(m) !== undefined),
    );
  }

  /** One host's tunnels (of the network when given), asked of its agent; waitUpMs as in status. */
  async hostStatus(host: string, net?: string, o: HostStatusQuery = {}): Promise<HostTunnels> {
    const h = await this.o.store.read((tx) => tx.getHost(host));
    if (!h) return { host, error: 'host is not registered' };
    try {
      const waitUpMs = o.waitUpMs ?? 0;
      const signal = o.signal ? AbortSignal.any([o.signal, this.stopping.signal]) : this.stopping.signal;
      const reply = await this.link(h.name, h.agentAddr).meshStatus((this.o.timeoutMs ?? 10_000) + waitUpMs, signal, {
        ...(net ? { network: net } : {}),
        waitUpMs,
      });
      // An agent from before the network filter answers for all its networks.
      return {
        host: h.name,
        reply: net ? { ...reply, tunnels: reply.tunnels.filter((t) => t.network === net) } : reply,
        error: '',
      };
    } catch (err) {
      return { host: h.name, error: describeError(err) };
    }
  }
}
