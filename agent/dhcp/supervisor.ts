// Supervises one DHCP client per (container namespace, ifname) for the container's whole life:
// runs it in the foreground in the container's namespace, learns the lease from fleetnet's hook,
// restarts it with backoff when it dies, releases on stop, reaps it when the container goes,
// and adopts live clients again after an agent restart.
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdirSync, rmSync } from 'node:fs';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { conflict, describeError, FleetnetError } from '../../common/errors.js';
import type { Runner } from '../../common/runner.js';
import { readClientRecords, saveClientRecord } from './client-records.js';
import { checkClient, clientLogTail, launchClient, noLeaseError, prepareClientDir } from './launch.js';
import { leaseOfHook, readHookFile } from './lease-file.js';
import { parseClientOptions } from './options.js';
import { isSameProcess, killSession, ownerAlive } from './process.js';
import { writeContainerResolvConf } from './resolv.js';
import { findDhcpScripts, type DhcpScripts } from './scripts.js';
import { stopClient } from './stop-client.js';
import type { ClientRecord, DhcpStartSpec, Lease, LeaseEvent } from './types.js';

export interface SupervisorDeps {
  runner: Runner;
  log: Logger;
  /** The agent's state dir; clients live in `<stateDir>/dhcp/<key>/`. */
  stateDir: string;
  docker?: () => Docker | undefined;
  scripts?: DhcpScripts;
  pollMs?: number;
  firstLeaseTimeoutMs?: number;
  backoffFirstMs?: number;
  backoffMaxMs?: number;
}

interface Managed {
  rec: ClientRecord;
  dir: string;
  child?: ChildProcess;
  lease?: Lease;
  leaseMtimeMs: number;
  attempts: number;
  launchedAtMs: number;
  restartTimer?: NodeJS.Timeout;
  restarting: boolean;
  /** A start is under way: the PID is not known yet. */
  launching?: boolean;
  stopping: boolean;
  /** The stop under way, for every caller to wait on. */
  stopRun?: Promise<void>;
  waiters: { resolve(l: Lease): void; reject(e: Error): void }[];
}

function managed(rec: ClientRecord, dir: string, launchedAtMs: number): Managed {
  return { rec, dir, leaseMtimeMs: 0, attempts: 0, launchedAtMs, restarting: false, stopping: false, waiters: [] };
}

interface StopOptions {
  release: boolean;
  reason?: string;
  ownerGone?: boolean;
}

export class DhcpSupervisor extends EventEmitter<{ event: [LeaseEvent] }> {
  private readonly clients = new Map<string, Managed>();
  /** The address a reaped client held, by key: its container's next start asks for it again. */
  private readonly heldBefore = new Map<string, string>();
  private readonly root: string;
  private timer?: NodeJS.Timeout;
  private ticking = false;
  private closed = false;
  private scriptsCache?: DhcpScripts;

  constructor(private readonly d: SupervisorDeps) {
    super();
    this.root = `${d.stateDir}/dhcp`;
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
    this.timer = setInterval(() => void this.tick(), d.pollMs ?? 500);
    this.timer.unref();
  }

  private get scripts(): DhcpScripts {
    return (this.scriptsCache ??= this.d.scripts ?? findDhcpScripts());
  }

  private dirOf(key: string): string {
    return `${this.root}/${key.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
  }

  /**
   * Starts a client and resolves with its first lease (the client is stopped again when none comes).
   * `lastAddress`: the address this attachment held before (its container restarted), asked for again.
   */
  async start(spec: DhcpStartSpec, o: { lastAddress?: string } = {}): Promise<Lease> {
    const existing = this.clients.get(spec.key);
    if (existing) {
      if (JSON.stringify(existing.rec.spec) !== JSON.stringify(spec))
        throw conflict(
          `${spec.ifname} already has a ${existing.rec.spec.client} client with other settings`,
          'detach it first',
        );
      return existing.lease ?? this.waitLease(existing);
    }
    const extra = await checkClient(this.d, spec);
    const dir = this.dirOf(spec.key);
    prepareClientDir(dir, spec, this.scripts.hook);
    const lastAddress = o.lastAddress ?? this.heldBefore.get(spec.key);
    this.heldBefore.delete(spec.key);
    const m = managed({ spec, pid: 0, pidStart: '', ...(lastAddress ? { lastAddress } : {}) }, dir, 0);
    this.clients.set(spec.key, m);
    try {
      await this.launch(m, extra);
    } catch (err) {
      this.clients.delete(spec.key);
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    return m.lease ?? this.waitLease(m);
  }

  private waitLease(m: Managed): Promise<Lease> {
    const timeoutMs = this.d.firstLeaseTimeoutMs ?? 45_000; // inside the CLI's 60 s deadline
    return new Promise<Lease>((resolve, reject) => {
      const t = setTimeout(() => {
        m.waiters = m.waiters.filter((w) => w.resolve !== done);
        const said = clientLogTail(m.dir); // before the stop: the folder goes with the failed attach
        // A failing stop is logged, never left unhandled (that would end the agent); the waiter fails either way.
        void this.stop(m.rec.spec.key, { release: false, reason: 'no lease' })
          .catch((err: unknown) =>
            this.d.log.warn({ key: m.rec.spec.key, err: describeError(err) }, 'dhcp stop failed'),
          )
          .then(() => reject(noLeaseError(m.rec.spec, timeoutMs, said)));
      }, timeoutMs);
      const done = (l: Lease) => {
        clearTimeout(t);
        resolve(l);
      };
      m.waiters.push({ resolve: done, reject: (e) => (clearTimeout(t), reject(e)) });
    });
  }

  private async launch(m: Managed, extra?: string[]): Promise<void> {
    m.launching = true;
    try {
      await this.launchNow(m, extra);
    } finally {
      m.launching = false;
    }
  }

  private async launchNow(m: Managed, extra?: string[]): Promise<void> {
    const { spec } = m.rec;
    const opts = extra ?? parseClientOptions(spec.client, spec.options);
    m.launchedAtMs = Date.now();
    const watch = (child: ChildProcess) => {
      m.child = child;
      child.on('error', (err) => this.d.log.warn({ key: spec.key, err }, 'dhcp client error'));
      child.on('exit', (code, sig) => this.onExit(m, child, code, sig));
    };
    const run = await launchClient(this.d, { rec: m.rec, dir: m.dir, opts, privateNs: this.scripts.privateNs, watch });
    // PID and start time change together: the supervision pass must never see one without the other.
    Object.assign(m.rec, run);
    m.rec.stopped = false;
    this.save(m);
    this.d.log.info({ key: spec.key, client: spec.client, pid: m.rec.pid, ifname: spec.ifname }, 'dhcp client started');
  }

  private onExit(m: Managed, child: ChildProcess, code: number | null, sig: NodeJS.Signals | null): void {
    if (m.child !== child || m.stopping || m.rec.stopped || this.closed) return;
    m.child = undefined;
    this.d.log.warn({ key: m.rec.spec.key, pid: child.pid, code, sig }, 'dhcp client died');
    this.scheduleRestart(m);
  }

  private scheduleRestart(m: Managed): void {
    if (m.restarting || m.stopping) return;
    m.restarting = true;
    if (Date.now() - m.launchedAtMs > 60_000) m.attempts = 0;
    const first = this.d.backoffFirstMs ?? 500;
    const delay = Math.min(this.d.backoffMaxMs ?? 30_000, first * 2 ** m.attempts);
    m.attempts++;
    m.restartTimer = setTimeout(() => {
      void (async () => {
        try {
          if (m.stopping) return;
          // What is left of the dead client's session (dhcpcd's helpers) goes first.
          if (m.rec.spec.client !== 'dhcp') await killSession(m.rec.pid, m.rec.pidStart);
          if (!(await ownerAlive(m.rec.spec.owner, m.rec.spec.netns)))
            return void (await this.reap(m, 'container gone'));
          await this.launch(m);
          this.emit('event', { type: 'restarted', key: m.rec.spec.key, pid: m.rec.pid, attempt: m.attempts });
        } catch (err) {
          this.d.log.warn({ key: m.rec.spec.key, err }, 'dhcp client restart failed; trying again');
          m.restarting = false;
          return this.scheduleRestart(m);
        }
        m.restarting = false;
      })();
    }, delay);
    m.restartTimer.unref();
  }

  /** One pass: new hook records, dead clients, gone containers. */
  private async tick(): Promise<void> {
    if (this.ticking) return;
    this.ticking = true;
    try {
      for (const m of [...this.clients.values()]) {
        if (m.stopping) continue;
        this.readLease(m);
        if (!(await ownerAlive(m.rec.spec.owner, m.rec.spec.netns))) {
          await this.reap(m, 'container gone');
          continue;
        }
        // Our own children report their exit; adopted clients and helpers are checked here.
        if (
          !m.child &&
          !m.restarting &&
          !m.launching &&
          !m.rec.stopped &&
          !(await isSameProcess(m.rec.pid, m.rec.pidStart))
        ) {
          this.d.log.warn({ key: m.rec.spec.key, pid: m.rec.pid }, 'dhcp client is gone');
          this.scheduleRestart(m);
        }
      }
    } catch (err) {
      this.d.log.error({ err }, 'dhcp supervision pass failed');
    } finally {
      this.ticking = false;
    }
  }

  private readLease(m: Managed): void {
    const read = readHookFile(m.dir, m.leaseMtimeMs);
    if (!read) return;
    m.leaseMtimeMs = read.mtimeMs;
    const r = read.record;
    const { spec } = m.rec;
    if (!r) return;
    const lease = leaseOfHook(r, m.rec);
    if (!lease) {
      if (m.lease && !m.rec.stopped) {
        m.lease = undefined;
        this.emit('event', { type: 'lost', key: spec.key, reason: r.event });
      }
      return;
    }
    m.lease = lease;
    if (m.rec.lastAddress !== r.address) {
      m.rec.lastAddress = r.address;
      this.save(m);
    }
    this.d.log.info(
      { key: spec.key, address: lease.address, router: lease.router, leaseSeconds: lease.leaseSeconds, event: r.event },
      'dhcp lease',
    );
    if (spec.dns && lease.dns.length) {
      try {
        writeContainerResolvConf(spec.owner.pid ?? 0, lease);
      } catch (err) {
        this.d.log.warn({ key: spec.key, err }, 'resolv.conf not written');
      }
    }
    this.emit('event', { type: 'lease', lease });
    const waiters = m.waiters.splice(0);
    if (spec.oneshot && !m.rec.stopped)
      void this.endOneshot(m)
        .catch((err: unknown) => this.d.log.warn({ key: spec.key, err: describeError(err) }, 'oneshot stop failed'))
        .then(() => waiters.forEach((w) => w.resolve(m.lease ?? lease)));
    else waiters.forEach((w) => w.resolve(lease));
  }

  /** --dhcp-oneshot: keep the address, stop the client (no release, so the address stays). */
  private async endOneshot(m: Managed): Promise<void> {
    m.rec.stopped = true;
    this.save(m);
    await this.killClient(m, false);
    if (m.lease) m.lease = { ...m.lease, clientPid: 0 };
    this.d.log.info({ key: m.rec.spec.key }, 'dhcp client stopped after its lease (oneshot)');
  }

  private killClient(m: Managed, release: boolean): Promise<void> {
    return stopClient(
      { runner: this.d.runner, log: this.d.log, ...(this.d.docker ? { docker: this.d.docker } : {}) },
      m.rec,
      m.dir,
      release,
    );
  }

  /**
   * Stops the client (DHCPRELEASE first when asked and the client supports it) and forgets it. A stop
   * already under way (the container's exit reaped it) is joined, not skipped: whoever removes the
   * interface next (a release on removal) must wait until the DHCPRELEASE has left through it.
   */
  stop(key: string, o: StopOptions = { release: true }): Promise<void> {
    const m = this.clients.get(key);
    if (!m) return Promise.resolve();
    m.stopRun ??= this.stopNow(m, key, o);
    return m.stopRun;
  }

  private async stopNow(m: Managed, key: string, o: StopOptions): Promise<void> {
    m.stopping = true;
    clearTimeout(m.restartTimer);
    if (o.ownerGone && m.rec.lastAddress) this.heldBefore.set(key, m.rec.lastAddress);
    try {
      if (!m.rec.stopped) await this.killClient(m, o.release);
    } finally {
      this.clients.delete(key);
      rmSync(m.dir, { recursive: true, force: true });
      m.waiters
        .splice(0)
        .forEach((w) =>
          w.reject(
            new FleetnetError(
              'failed',
              `the DHCP client on ${m.rec.spec.ifname} was stopped (${o.reason ?? 'detach'})`,
            ),
          ),
        );
      this.emit('event', { type: 'stopped', key, reason: o.reason ?? 'detach', ownerGone: !!o.ownerGone });
      this.d.log.info({ key, release: o.release, reason: o.reason }, 'dhcp client stopped');
    }
  }

  private async reap(m: Managed, reason: string): Promise<void> {
    this.d.log.info({ key: m.rec.spec.key, reason }, 'reaping dhcp client');
    // The client holds the namespace open, so the interface is still there to send the release.
    await this.stop(m.rec.spec.key, { release: true, reason, ownerGone: true });
  }

  /** Docker said the container died: reap its clients now instead of at the next pass. */
  async containerGone(containerId: string): Promise<void> {
    for (const m of [...this.clients.values()]) {
      if (m.rec.spec.owner.containerId === containerId && !(await ownerAlive(m.rec.spec.owner, m.rec.spec.netns)))
        await this.reap(m, 'container exited');
    }
  }

  leases(): Lease[] {
    return [...this.clients.values()].flatMap((m) => (m.lease ? [m.lease] : []));
  }

  lease(key: string): Lease | undefined {
    return this.clients.get(key)?.lease;
  }

  has(key: string): boolean {
    return this.clients.has(key);
  }

  /**
   * After an agent restart: live clients are adopted (same PID and start time), dead ones restarted, orphans reaped.
   */
  async adopt(): Promise<{ adopted: string[]; restarted: string[]; reaped: string[] }> {
    const out = { adopted: [] as string[], restarted: [] as string[], reaped: [] as string[] };
    for (const { dir, rec } of readClientRecords(this.root)) {
      if (this.clients.has(rec.spec.key)) continue;
      const m = managed(rec, dir, Date.now());
      // Until this adoption has decided, the supervision pass leaves the client alone: seeing the old
      // process dead, it would start a second client beside the one launched here.
      m.launching = true;
      this.clients.set(rec.spec.key, m);
      try {
        this.readLease(m);
        if (!(await ownerAlive(rec.spec.owner, rec.spec.netns))) {
          await this.reap(m, 'container gone while the agent was down');
          out.reaped.push(rec.spec.key);
        } else if (rec.stopped || (await isSameProcess(rec.pid, rec.pidStart))) {
          this.d.log.info({ key: rec.spec.key, pid: rec.pid }, 'dhcp client adopted');
          out.adopted.push(rec.spec.key);
        } else {
          try {
            if (rec.spec.client !== 'dhcp') await killSession(rec.pid, rec.pidStart);
            await this.launch(m);
            out.restarted.push(rec.spec.key);
          } catch (err) {
            this.d.log.warn({ key: rec.spec.key, err }, 'dhcp client could not be restarted; trying again');
            this.scheduleRestart(m);
          }
        }
      } finally {
        m.launching = false;
      }
    }
    return out;
  }

  private save(m: Managed): void {
    saveClientRecord(m.dir, m.rec);
  }

  /** Stops supervising (the agent is going down); clients keep running and are adopted next time. */
  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    for (const m of this.clients.values()) clearTimeout(m.restartTimer);
  }
}
