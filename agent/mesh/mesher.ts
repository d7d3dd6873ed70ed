// The agent's mesh: keeps this host's tunnels equal to the latest MeshSpec it was given.
// Level-triggered: read back what exists (ovs-vsctl, ip -json -d link, bridge -json fdb),
// diff against the spec, add what is missing, remove what is stale, leave the rest untouched,
// on every ApplyMesh and on a periodic pass. The spec is kept in <state-dir>/mesh.json so a
// restarted agent converges to the same generation before it is told anything.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { FleetnetError } from '../../common/errors.js';
import { KeyedQueue } from '../../common/keyed-queue.js';
import { diffTunnels, type Tunnel } from '../../common/mesh.js';
import type { Runner } from '../../common/runner.js';
import type { NeighIo } from '../linux/neigh-io.js';
import { BfdNudge } from './bfd-nudge.js';
import { BfdWatch } from './bfd-watch.js';
import { BridgeTunnels } from './bridge-tunnels.js';
import { MeshFirewall } from './firewall.js';
import { passKernel } from './kernel-pass.js';
import type { OwnedKeeper } from '../attach/ownership.js';
import { passOvs } from './ovs-pass.js';
import { OvsTunnels, type OvsMeshState } from './ovs-tunnels.js';
import { kernelTunnels, sameTunnels, settledOvs, watchedOvs, watchedUp } from './settled.js';
import { checkMeshSpec, type MeshNetworkSpec, type MeshResult, type MeshSpec } from './spec.js';
import { tunnelStatuses, type TunnelStatus } from './status.js';

export interface MesherOptions {
  runner: Runner;
  /** Opens this host's neighbour I/O (in-process netlink, or `ip` execs); absent: `ip` execs through runner. */
  neigh?: () => NeighIo;
  ovsDb?: string;
  stateDir: string;
  log: Logger;
  /** Whether this kernel can make gretap devices (from the capability probe). */
  hasGretap: () => Promise<boolean>;
  /** bfd:decay_min_rx of OVS tunnels (the agent's --mesh-bfd-decay-ms; 0: none); absent: not set. */
  bfdDecayMs?: number;
  /** Datapath type of OVS bridges the mesh creates when the spec names none (the agent's --ovs-datapath). */
  defaultDatapathType?: string;
  /** Force a firewall backend (tests); default: nft when installed, else iptables. */
  firewall?: 'nft' | 'iptables';
  /** Period of the full pass while a mesh is held (0: only on ApplyMesh). */
  resyncMs?: number;
  /**
   * Keep OVS tunnels' BFD state from a live `ovsdb-client monitor` while a mesh with OVS networks is
   * held: status reads memory, and a wait for "every tunnel up" ends when OVS records it.
   */
  watchBfd?: boolean;
  now?: () => number;
  /** The agent's owner mark, put on the OVS bridges the mesh makes (which of them are this agent's). */
  ownerMark?: string;
  /** Removes a bridge fleetnet owns once nothing uses it (the Attacher's keeper); absent: bridges stay. */
  owned?: OwnedKeeper;
}

export interface StatusQuery {
  /** Only this network's tunnels. */
  network?: string;
  /** Above 0: answer once every tunnel asked about is up, or after this long (then as they are). */
  waitUpMs?: number;
  signal?: AbortSignal;
}

/** The periodic pass reads everything back at least every this many + 1 periods (see Mesher.periodicPass). */
export const WATCHED_PASSES_BETWEEN_READS = 5;

/** With no BFD watch (kernel tunnels, no ovsdb-client), a wait for "up" looks again this often. */
const WAIT_POLL_MS = 500;
/** With one, a wait is woken by each change; this only bounds it should a wake-up be missed (the watch restarting). */
const WATCHED_RECHECK_MS = 2000;

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
  });

const EMPTY: MeshSpec = { generation: 0, networks: [] };

export class Mesher {
  private spec: MeshSpec = EMPTY;
  private readonly queue = new KeyedQueue();
  private readonly ovs: OvsTunnels;
  private readonly kernel: BridgeTunnels;
  private readonly firewall: MeshFirewall;
  private readonly bfd: BfdWatch | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lastPass: MeshResult | undefined;
  /** The spec the last pass left converged with no error: the next ApplyMesh diffs against it, reading nothing back. */
  private settled: MeshSpec | undefined;
  /**
   * The last kernel pass wanted no kernel tunnel and left none, nor a firewall, with no error: while the spec
   * wants none, the periodic pass reads only OVS. Only this agent makes kernel tunnels and their firewall, so
   * none can appear meanwhile; a restarted agent starts false (its first pass reads everything).
   */
  private kernelClean = false;
  /** Periodic passes in a row that stood on the BFD watch (periodicPass). */
  private watchedPasses = 0;
  /**
   * The state folder holds an emptied mesh (the host left its last one): what an agent stopped halfway through
   * leaving left behind (tunnels, the bridge it made) is looked for by one pass when it starts again (resume).
   */
  private emptied = false;

  constructor(private readonly o: MesherOptions) {
    this.ovs = new OvsTunnels({
      runner: o.runner,
      ...(o.ovsDb ? { ovsDb: o.ovsDb } : {}),
      ...(o.bfdDecayMs === undefined ? {} : { bfdDecayMs: o.bfdDecayMs }),
      ...(o.ownerMark ? { ownerMark: o.ownerMark } : {}),
      log: o.log,
    });
    this.kernel = new BridgeTunnels(o.runner);
    this.firewall = new MeshFirewall(o.runner, o.firewall);
    const db = o.ovsDb ? { ovsDb: o.ovsDb } : {};
    const ours = (name: string) =>
      this.spec.networks.some((n) => n.kind === 'ovs' && n.tunnels.some((t) => t.port === name));
    const nudge = new BfdNudge({ runner: o.runner, log: o.log, ...db, ours });
    const onChange = (r: Map<string, Record<string, string>>) => nudge.see(r);
    if (o.watchBfd) this.bfd = new BfdWatch({ runner: o.runner, log: o.log, ...db, ownPort: ours, onChange });
    const file = this.file();
    if (existsSync(file)) this.spec = checkMeshSpec(JSON.parse(readFileSync(file, 'utf8')) as MeshSpec);
    this.emptied = existsSync(file) && !this.spec.networks.length;
  }

  /** The spec names this bridge (a network's, on this host): nothing else may remove it as unused. */
  holds(bridge: string): boolean {
    return this.spec.networks.some((n) => n.bridge === bridge);
  }

  private file(): string {
    return join(this.o.stateDir, 'mesh.json');
  }

  current(): MeshSpec {
    return this.spec;
  }

  last(): MeshResult | undefined {
    return this.lastPass;
  }

  /** The BFD watch's interfacesVersion, for others reading OVS ports (the orphan sweep); undefined: not live. */
  interfacesVersion(): number | undefined {
    return this.bfd?.interfacesVersion();
  }

  /** Converges to a spec checked where it entered (meshSpecFromProto); an older generation is refused. */
  apply(spec: MeshSpec): Promise<MeshResult> {
    return this.queue.run('mesh', async () => {
      if (spec.generation < this.spec.generation) {
        throw new FleetnetError(
          'conflict',
          `mesh generation ${spec.generation} is older than the one this agent holds (${this.spec.generation})`,
          {
            hint: 'send the latest generation; the agent keeps converging to the newest it has seen',
          },
        );
      }
      mkdirSync(this.o.stateDir, { recursive: true });
      const tmp = `${this.file()}.tmp`;
      writeFileSync(tmp, JSON.stringify(spec), { mode: 0o600 });
      renameSync(tmp, this.file());
      const settled = this.settled;
      this.spec = spec;
      // A host's first OVS mesh: the watch starts before the ports are made, so it is live (its first
      // table read done) by the time someone waits for them to come up.
      if (spec.networks.some((n) => n.kind === 'ovs')) this.bfd?.start();
      const res = await this.pass(settled);
      this.resume(false);
      return res;
    });
  }

  /**
   * Periodic passes while a mesh with networks is held (a host that never had one runs no
   * passes at all, so other work's command logs stay quiet); stops when the mesh empties. At the
   * agent's start (passNow) with an emptied mesh held, one pass removes what is left of it.
   */
  resume(passNow = true): void {
    const want = this.spec.networks.length > 0 && (this.o.resyncMs ?? 0) > 0;
    if (want && !this.timer) this.start(this.o.resyncMs!, passNow);
    else if (!want) this.stop();
    if (passNow && this.emptied && !this.spec.networks.length)
      this.reconcile().catch((err: unknown) =>
        this.o.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'mesh pass failed'),
      );
    this.emptied = false;
    if (this.spec.networks.some((n) => n.kind === 'ovs')) this.bfd?.start();
    else this.bfd?.stop();
  }

  /** One reconcile pass against the spec held. */
  reconcile(): Promise<MeshResult> {
    return this.queue.run('mesh', () => this.pass());
  }

  /**
   * The timer's pass: a reconcile, unless the BFD watch shows every wanted port as the last clean pass left it
   * (each with its interface and a BFD state) and no kernel tunnel is wanted or left; then it reads nothing, up
   * to WATCHED_PASSES_BETWEEN_READS times in a row. A port deleted by hand is seen at once (its interface row
   * goes); drift the watch cannot see (a port's options changed by hand) waits for the next full read.
   */
  periodicPass(): Promise<MeshResult> {
    return this.queue.run('mesh', async () => {
      const kept = this.watchedKept();
      if (kept === undefined || this.watchedPasses >= WATCHED_PASSES_BETWEEN_READS) {
        this.watchedPasses = 0;
        return this.pass();
      }
      this.watchedPasses++;
      return { generation: this.spec.generation, added: [], removed: [], kept, changes: 0, errors: [] };
    });
  }

  /** How many tunnels the watch shows as planned, when it can stand in for a pass (see periodicPass). */
  private watchedKept(): number | undefined {
    const live = this.liveOvs();
    if (!live || !this.kernelClean || kernelTunnels(this.spec).length) return undefined;
    const ports = this.spec.networks.flatMap((n) => n.tunnels);
    return ports.every((t) => live.bfd.get(t.port)?.state) ? ports.length : undefined;
  }

  /** Periodic passes (errors are logged, the next pass retries). */
  start(resyncMs: number, passNow = true): void {
    this.stop();
    const tick = () => {
      this.periodicPass().catch((err: unknown) =>
        this.o.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'mesh pass failed'),
      );
    };
    if (passNow) tick();
    this.timer = setInterval(tick, resyncMs);
    this.timer.unref();
  }

  /** Stops the periodic passes (and with `all`, the BFD watch: the agent is shutting down). */
  stop(all = false): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (all) this.bfd?.stop();
  }

  /**
   * Each wanted tunnel's state. With waitUpMs, answers as soon as every one asked about is up (woken by
   * the BFD watch when OVS records a change), or when the wait runs out, with the states as they are.
   */
  async status(q: StatusQuery = {}): Promise<TunnelStatus[]> {
    const deadline = Date.now() + (q.waitUpMs ?? 0);
    for (;;) {
      // A running watch wakes the wait at each change (its first table included); it is listened to before
      // the states are read, so a change OVS records meanwhile is not missed. Without one, look again.
      const done = new AbortController();
      const signal = q.signal ? AbortSignal.any([q.signal, done.signal]) : done.signal;
      const nextMs = Math.max(0, Math.min(WATCHED_RECHECK_MS, deadline - Date.now()));
      const change = this.bfd?.running() ? this.bfd.changed(nextMs, signal) : undefined;
      // While the watch shows a tunnel asked about not up, no state is built: the next change wakes the wait.
      if (
        change &&
        Date.now() < deadline &&
        !q.signal?.aborted &&
        watchedUp(this.liveOvs(), this.spec, q.network) === false
      ) {
        await change;
        continue;
      }
      const s = await this.statusNow(q.network);
      const leftMs = deadline - Date.now();
      const watched = change && s.every((t) => t.kind === 'ovs');
      if (leftMs <= 0 || s.every((t) => t.state === 'up') || q.signal?.aborted || !watched) done.abort();
      if (leftMs <= 0 || s.every((t) => t.state === 'up') || q.signal?.aborted) return s;
      await (watched ? change : sleep(Math.min(WAIT_POLL_MS, leftMs), q.signal));
    }
  }

  private async statusNow(network?: string): Promise<TunnelStatus[]> {
    const only = (ts: Tunnel[]) => (network ? ts.filter((t) => t.network === network) : ts);
    const now = this.o.now ?? Date.now;
    const live = this.liveOvs();
    if (live && this.spec.networks.every((n) => n.kind === 'ovs')) {
      const wanted = only(this.spec.networks.flatMap((n) => n.tunnels));
      return tunnelStatuses({ runner: this.o.runner, wanted, ovs: live, kernel: undefined, now });
    }
    return this.queue.run('mesh', async () => {
      const wanted = only(this.spec.networks.flatMap((n) => n.tunnels));
      const ovs = wanted.some((t) => t.kind === 'ovs') ? await this.ovs.list() : undefined;
      const kernel = wanted.some((t) => t.kind === 'bridge') ? await this.kernel.list() : undefined;
      return tunnelStatuses({ runner: this.o.runner, wanted, ovs, kernel, now });
    });
  }

  /** This host's OVS tunnels as the BFD watch sees them, when that can stand in for a read (watchedOvs). */
  private liveOvs(): OvsMeshState | undefined {
    return watchedOvs(this.spec, this.settled, this.bfd?.snapshot());
  }

  /**
   * Converges to the spec held. With `settled` (what the last clean pass left, an ApplyMesh), what
   * exists is taken to be that spec and only the difference is run: a join costs each member one
   * ovs-vsctl, nothing read back. The periodic pass (reconcile) reads back what the spec has (it repairs
   * drift): OVS always, the kernel's devices and firewall unless the spec wants none and the last read found
   * none (kernelClean).
   */
  private async pass(settled?: MeshSpec): Promise<MeshResult> {
    const t0 = performance.now();
    this.settled = undefined;
    const res: MeshResult = {
      generation: this.spec.generation,
      added: [],
      removed: [],
      kept: 0,
      changes: 0,
      errors: [],
    };
    const nets = new Map(this.spec.networks.map((n) => [n.network, n]));
    const fail = (network: string, err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      res.errors.push({ network, message, kind: err instanceof FleetnetError ? err.kind : 'failed' });
      this.o.log.warn({ network, err: message }, 'mesh: network not converged');
    };
    const kernelWant = kernelTunnels(this.spec);
    const kernelSame = settled && sameTunnels(kernelTunnels(settled), kernelWant);
    if (kernelSame) res.kept += kernelWant.length;
    // Nothing wanted and nothing left at the last read: no ip/bridge/nft read (an OVS-only mesh).
    const readKernel = !kernelSame && (kernelWant.length > 0 || !this.kernelClean);
    const { runner, log, neigh, defaultDatapathType, ownerMark, owned } = this.o;
    const parts = { ovs: this.ovs, runner, log, neigh, defaultDatapathType, ownerMark, owned };
    const ovs = passOvs(parts, nets, res, fail, settledOvs(settled, this.spec));
    // With no kernel tunnel wanted the kernel pass only removes leftovers, which no OVS port depends on: it
    // runs beside the OVS pass (a joining host's first pass answers after the longer of the two, not their sum).
    const kernel = !readKernel
      ? undefined
      : kernelWant.length
        ? ovs.then(() => this.kernelPass(nets, res, fail, kernelWant))
        : this.kernelPass(nets, res, fail, kernelWant);
    for (const r of await Promise.allSettled([ovs, kernel])) if (r.status === 'rejected') throw r.reason;
    if (res.changes > 0)
      this.o.log.info(
        {
          generation: res.generation,
          added: res.added.length,
          removed: res.removed.length,
          changes: res.changes,
          ms: Math.round(performance.now() - t0),
        },
        'mesh converged',
      );
    this.lastPass = res;
    if (!res.errors.length) this.settled = this.spec;
    return res;
  }

  /** passKernel; kernelClean says afterwards whether it wanted and left nothing, with no error. */
  private async kernelPass(
    nets: Map<string, MeshNetworkSpec>,
    res: MeshResult,
    fail: (n: string, e: unknown) => void,
    want: readonly Tunnel[],
  ): Promise<void> {
    this.kernelClean = false;
    let failed = false;
    const { hasGretap, owned, log } = this.o;
    const parts = { kernel: this.kernel, firewall: this.firewall, hasGretap, owned, log };
    await passKernel(parts, nets, res, (n, e) => {
      failed = true;
      fail(n, e);
    });
    this.kernelClean = !want.length && !failed;
  }
}
