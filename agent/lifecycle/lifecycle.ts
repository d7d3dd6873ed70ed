// Attachments follow their containers. Docker's events, and LXC's (lxc-events.ts), are hints acted on
// at once (start: re-apply through the same path as a first attach; die: stopped; destroy: released); a periodic
// level-triggered pass compares every record with the runtimes and the kernel and repairs what an
// event stream missed (agent down, dockerd restarted), retries failed re-applies with backoff and
// removes orphans that carry this agent's marks.
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { describeError, FleetnetError } from '../../common/errors.js';
import type { Attacher } from '../attach/attacher.js';
import type { AttachmentRecord, RecordStore } from '../attach/records.js';
import type { ContainerResolver } from '../containers/resolve.js';
import { watchContainerEvents, type ContainerEvent, type EventWatch } from '../dhcp/docker-events.js';
import type { AttachOrder } from '../attach/order.js';
import { findOrphans, removeOrphans, type OrphanDeps } from './orphans.js';
import { isGone, isNotRunning } from './container-errors.js';
import { LabelAttachments, type LabelState } from './label-attach.js';
import { hasFleetnetLabels } from './labels.js';
import type { LxcEvent, LxcHandlers, LxcWatch } from './lxc-events.js';
import { identityTarget, loadOrder } from './saved-order.js';
import type { GoneReservations } from './cni-gone.js';

export interface LifecycleDeps {
  attacher: Attacher;
  records: RecordStore;
  resolver: Pick<ContainerResolver, 'resolve'>;
  docker: () => Docker | undefined;
  log: Logger;
  /** This agent's host name: containers labelled fleetnet.host=OTHER are left to that host's agent. */
  hostName?: string;
  fullPassMs: number;
  /**
   * How long an orphan must have been seen before the pass removes it (default 3 passes); `check --fix` does not wait.
   */
  orphanGraceMs?: number;
  orphans: Omit<OrphanDeps, 'records' | 'log' | 'inProgress' | 'removeIfUnclaimed'>;
  /** Called when a container dies or is destroyed (DHCP clients are reaped at once). */
  onExit?: (id: string) => void;
  /** Called with each full pass's report (metrics). */
  onPass?: (rep: PassReport) => void;
  /**
   * Starts LXC's event watch (watchLxcEvents); run only while this agent holds an LXC record: the one
   * lxc-monitord of an LXC path serves only its own network namespace, and a host without LXC needs none.
   */
  lxcEvents?: (h: LxcHandlers) => LxcWatch;
  /** Local CNI reservations whose namespace is gone with no DEL: freed after the orphans' grace. */
  cniGone?: GoneReservations;
}

interface DockerView {
  running: boolean;
  pid: number;
  name: string;
  labels: Record<string, string>;
}

export interface PassReport {
  reapplied: string[];
  released: string[];
  stopped: string[];
  failed: { key: string; error: string }[];
  orphansRemoved: string[];
  /** Orphans seen by this pass (removed only once older than the grace). */
  orphansFound: string[];
  labelled: number;
}

export class Lifecycle {
  private watch?: EventWatch;
  private lxcWatch?: LxcWatch;
  private timer?: NodeJS.Timeout;
  private passing?: Promise<PassReport>;
  private again = false;
  private stopped = false;
  private readonly labelled: LabelAttachments;
  /**
   * Orphans seen, by name, with when first seen: removed only once older than the grace (a controller re-asking adopts
   * them first).
   */
  private readonly orphanSeen = new Map<string, number>();

  constructor(private readonly d: LifecycleDeps) {
    this.labelled = new LabelAttachments(d);
  }

  start(): void {
    this.watch = watchContainerEvents(
      this.d.docker,
      {
        onEvent: (ev) =>
          void this.onEvent(ev).catch((err: unknown) =>
            this.d.log.warn({ err: describeError(err), ev }, 'container event not handled'),
          ),
        // Connected (again): whatever happened while the stream was down is found by a full pass.
        onConnect: () => void this.passInBackground(),
      },
      this.d.log,
    );
    this.d.records.onPut((r) => {
      if (r.container.runtime === 'lxc' && !this.lxcWatch) void this.syncLxcWatch();
    });
    void this.syncLxcWatch();
    const tick = () => {
      if (this.stopped) return;
      this.timer = setTimeout(() => void this.passInBackground().then(tick), this.d.fullPassMs);
      this.timer.unref();
    };
    void this.passInBackground().then(tick);
  }

  /**
   * A full pass nobody waits for (the timer's, after a reconnect): a failure is logged and the next pass tries
   * again. Never a rejection left unhandled, which would end the agent.
   */
  private passInBackground(): Promise<void> {
    return this.fullPass().then(
      () => undefined,
      (err: unknown) => this.d.log.warn({ err: describeError(err) }, 'lifecycle pass failed; the next one tries again'),
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.watch?.close();
    await this.syncLxcWatch();
  }

  /** LXC events are followed while there is an LXC record (checked on each new record and after each pass). */
  private async syncLxcWatch(): Promise<void> {
    const want = !this.stopped && !!this.d.lxcEvents && this.d.records.all().some((r) => r.container.runtime === 'lxc');
    if (want && !this.lxcWatch) {
      this.lxcWatch = this.d.lxcEvents!({
        onEvent: (ev) =>
          void this.onLxcEvent(ev).catch((err: unknown) =>
            this.d.log.warn({ err: describeError(err), ev }, 'LXC event not handled'),
          ),
        onConnect: () => void this.passInBackground(),
      });
    } else if (!want && this.lxcWatch) {
      const w = this.lxcWatch;
      this.lxcWatch = undefined;
      await w.close();
    }
  }

  labels(): LabelState[] {
    return this.labelled.states();
  }

  private dockerRecords(id: string): AttachmentRecord[] {
    return this.d.records.find((r) => r.container.runtime === 'docker' && r.container.id === id);
  }

  async onEvent(ev: ContainerEvent): Promise<void> {
    if (ev.action === 'start') {
      await Promise.all(this.dockerRecords(ev.id).map((r) => this.reapply(r)));
      if (hasFleetnetLabels(ev.labels)) await this.labelled.apply(ev.id, ev.labels);
      return;
    }
    this.d.onExit?.(ev.id);
    if (ev.action === 'die') {
      for (const r of this.dockerRecords(ev.id)) this.d.attacher.note(r.key, { state: 'stopped' });
      this.labelled.forget(ev.id); // a stopped container's label errors go with it (its next start tries again)
      return;
    }
    this.labelled.forget(ev.id);
    for (const r of this.dockerRecords(ev.id)) await this.d.attacher.release(r.key, 'container removed');
  }

  /** LXC's counterpart of onEvent: RUNNING re-applies, STOPPED marks stopped, a destroyed container releases. */
  async onLxcEvent(ev: LxcEvent): Promise<void> {
    const mine = this.d.records.find((r) => r.container.runtime === 'lxc' && r.container.id === ev.name);
    if (ev.state === 'running') await Promise.all(mine.map((r) => this.reapply(r)));
    else if (ev.state === 'stopped') for (const r of mine) this.d.attacher.note(r.key, { state: 'stopped' }, r);
    else for (const r of mine) await this.d.attacher.release(r.key, 'container removed');
  }

  /** The same attach again, with the same settings, through the same path; a failure is noted with backoff. */
  async reapply(r: AttachmentRecord): Promise<boolean> {
    if (!r.order) {
      this.d.log.warn({ key: r.key }, 'record from an older agent has no saved order; cannot re-apply it');
      return false;
    }
    let order: AttachOrder;
    try {
      order = loadOrder(r.order, identityTarget(r.container));
    } catch (err) {
      this.d.attacher.note(r.key, { state: 'failed', lastError: describeError(err), attempts: (r.attempts ?? 0) + 1 });
      return false;
    }
    // What the record was before this try: a note is written only over that, never over what a
    // concurrent re-apply (the container's next start event) made in the meantime.
    const before = this.d.records.get(r.key);
    try {
      // The container itself first: only its absence releases (an attach can fail not_found for other
      // reasons, a missing parent interface for one, which is a failure to retry, not a removal).
      await this.d.resolver.resolve(order.target);
    } catch (err) {
      if (isGone(err)) {
        await this.d.attacher.release(r.key, 'container gone');
      } else if (isNotRunning(err)) {
        // Each pass asks again of a stopped LXC or PID target: the record is written only when it changes.
        if (before?.state !== 'stopped') this.d.attacher.note(r.key, { state: 'stopped' }, before);
      } else {
        this.d.log.warn({ key: r.key, err: describeError(err) }, 'container not resolved; the next pass tries again');
      }
      return false;
    }
    try {
      const opts = { onlyIfRecorded: true, ...(r.order.keepAddress ? { keepAddress: true } : {}) };
      const res = await this.d.attacher.attach(order, opts);
      const container = res.record.container.name;
      if (res.changed) this.d.log.info({ key: r.key, container, ifname: r.ifname }, 're-applied');
      return true;
    } catch (err) {
      if (!this.d.records.get(r.key)) return false; // detached meanwhile (onlyIfRecorded): nothing to do
      if (isNotRunning(err) || isGone(err)) {
        // It stopped (or went) between the look-up and the attach: the events and the next pass say which.
        this.d.attacher.note(r.key, { state: 'stopped' }, before);
        return false;
      }
      this.d.log.warn({ key: r.key, err: describeError(err) }, 're-apply failed; retrying with backoff');
      return false;
    }
  }

  /** One level-triggered pass; concurrent callers share the pass under way (and one more after it). */
  fullPass(): Promise<PassReport> {
    if (this.passing) {
      this.again = true;
      return this.passing;
    }
    this.passing = this.pass().finally(() => {
      this.passing = undefined;
      if (this.again && !this.stopped) {
        this.again = false;
        void this.passInBackground();
      }
    });
    return this.passing;
  }

  private async dockerView(): Promise<Map<string, DockerView> | undefined> {
    const docker = this.d.docker();
    if (!docker) return undefined;
    try {
      const list = await docker.listContainers({ all: true });
      return new Map(
        list.map((c) => [
          c.Id,
          {
            running: c.State === 'running',
            pid: 0,
            name: (c.Names[0] ?? '').replace(/^\//, ''),
            labels: c.Labels ?? {},
          },
        ]),
      );
    } catch (err) {
      this.d.log.debug(
        { err: describeError(err) },
        'docker did not answer; docker attachments are left as they are this pass',
      );
      return undefined;
    }
  }

  private async pass(): Promise<PassReport> {
    const rep: PassReport = {
      reapplied: [],
      released: [],
      stopped: [],
      failed: [],
      orphansRemoved: [],
      orphansFound: [],
      labelled: 0,
    };
    const view = await this.dockerView();
    const now = Date.now();
    // OVS bridges of this pass that ovs-vswitchd could not make (asked once per bridge per pass).
    const broken = new Map<string, Promise<FleetnetError | undefined>>();
    const problemOf = (br: string) => {
      if (!broken.has(br)) broken.set(br, this.d.orphans.ovs.datapathProblem(br));
      return broken.get(br)!;
    };
    const work = this.d.records.all().map((r) => async () => {
      if (r.container.runtime === 'docker') {
        if (!view) return;
        const v = view.get(r.container.id);
        if (!v) {
          if (await this.d.attacher.release(r.key, 'container removed')) rep.released.push(r.key);
          return;
        }
        if (!v.running) {
          // Only over the record this pass read: a start event may have re-applied it since the listing.
          if (r.state !== 'stopped' && this.d.attacher.note(r.key, { state: 'stopped' }, r)) rep.stopped.push(r.key);
          return;
        }
      }
      if (r.kind === 'ovs') {
        // Converged means working: on a bridge without a datapath it is failed, with the reason and the
        // fix, and left as it is (a re-apply could only fail the same way) until the bridge works.
        const why = await problemOf(r.hostIf);
        if (why) {
          const lastError = `${why.message}; fix: ${why.hint ?? ''}`;
          if (r.state !== 'failed' || r.lastError !== lastError) {
            this.d.attacher.note(r.key, { state: 'failed', lastError, attempts: (r.attempts ?? 0) + 1 }, r);
            rep.failed.push({ key: r.key, error: lastError });
          }
          return;
        }
      }
      if (r.state === 'up' || r.state === undefined) {
        // Running: is it still as made (same namespace, interface present)?
        if (await this.stillLive(r)) return;
      } else if (r.state === 'failed' && (r.nextRetryMs ?? 0) > now) {
        return;
      }
      if (await this.reapply(r)) rep.reapplied.push(r.key);
      else {
        const after = this.d.records.get(r.key);
        if (after?.state === 'failed') rep.failed.push({ key: r.key, error: after.lastError ?? '' });
        else if (!after) rep.released.push(r.key);
      }
    });
    await runLimited(work, 8);
    if (view) {
      for (const [id, v] of view) {
        if (v.running && hasFleetnetLabels(v.labels)) {
          rep.labelled++;
          await this.labelled.apply(id, v.labels);
        }
      }
      this.labelled.keepOnly((id) => view.get(id)?.running === true);
    }
    const od = {
      ...this.d.orphans,
      records: this.d.records,
      log: this.d.log,
      inProgress: () => this.d.attacher.inProgress(),
      removeIfUnclaimed: (n: string, rm: () => Promise<void>) => this.d.attacher.removeIfUnclaimed(n, rm),
      owned: this.d.attacher.owned,
    };
    const found = await findOrphans(od);
    const grace = this.d.orphanGraceMs ?? 3 * this.d.fullPassMs;
    for (const n of [...this.orphanSeen.keys()]) if (!found.some((o) => o.name === n)) this.orphanSeen.delete(n);
    for (const o of found) if (!this.orphanSeen.has(o.name)) this.orphanSeen.set(o.name, now);
    const removed = await removeOrphans(
      od,
      found.filter((o) => now - this.orphanSeen.get(o.name)! >= grace),
    );
    rep.orphansRemoved = removed.map((o) => o.name);
    rep.orphansFound = found.map((o) => o.name);
    rep.orphansRemoved.push(...((await this.d.cniGone?.sweep(now, grace)) ?? []).map((k) => `cni:${k}`));
    if (rep.reapplied.length + rep.released.length + rep.failed.length + rep.orphansRemoved.length)
      this.d.log.info(rep, 'lifecycle pass');
    this.d.onPass?.(rep);
    await this.syncLxcWatch();
    return rep;
  }

  private async stillLive(r: AttachmentRecord): Promise<boolean> {
    if (this.d.attacher.liveState(r) !== 'up') return false;
    try {
      const c = await this.d.resolver.resolve(identityTarget(r.container));
      return c.nsKey === r.container.nsKey;
    } catch (err) {
      if (isGone(err)) return false;
      return true; // cannot tell (runtime not answering): leave it as it is
    }
  }
}

async function runLimited(work: (() => Promise<void>)[], parallel: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < work.length) await work[next++]!();
  };
  await Promise.all(Array.from({ length: Math.min(parallel, work.length) }, worker));
}
