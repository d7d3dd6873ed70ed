// The BFD state of this host's OVS interfaces as OVS writes it: one long-running `ovsdb-client monitor`
// of the Interface table (name, bfd_status), which prints the table once and then one JSON line per
// change. MeshStatus answers from it without a process per call, and a wait for "every tunnel up"
// wakes when OVS records the change, not at the next poll. The child is started again with backoff
// when it dies (ovsdb-server restarted); while it is down, or before its first table, the watch is not
// live and callers read the database as before.
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import type { Runner } from '../../common/runner.js';
import { ovsMap } from '../ovs/vsctl.js';

export interface BfdWatchOptions {
  runner: Runner;
  log: Logger;
  /** `unix:PATH`; absent: what ovsdb-client finds by itself (it honours OVS_RUNDIR, as ovs-vsctl does). */
  ovsDb?: string;
  retryFirstMs?: number;
  retryMaxMs?: number;
  /**
   * The mesh's own tunnel ports: their coming and going does not move interfacesVersion (never tagged for an
   * attachment, they change nothing for the orphan sweep; a join adds one on every member).
   */
  ownPort?: (name: string) => boolean;
  /** Called with every interface's bfd_status at each change while the watch is live. */
  onChange?: (byName: Map<string, Record<string, string>>) => void;
}

/** One row of an `ovsdb-client --format=json monitor` update, by its headings. */
interface MonitorTable {
  headings: string[];
  data: unknown[][];
}

/** The argv of the monitor (exported for the argv test). */
export function bfdMonitorArgs(ovsDb?: string): string[] {
  return ['--format=json', 'monitor', ...(ovsDb ? [ovsDb] : []), 'Open_vSwitch', 'Interface', 'name,bfd_status'];
}

/**
 * Interface rows by uuid, kept from monitor updates. An update lists rows as `initial`, `insert`,
 * `delete`, or `old` (the row's uuid, only the changed columns' old values) followed by `new` (no
 * uuid: the same row, every monitored column).
 */
export class InterfaceRows {
  private readonly rows = new Map<string, { name: string; bfd: Record<string, string> }>();
  /** Rows added or removed so far (a changed bfd_status does not count): the set of interfaces changed. */
  addedOrRemoved = 0;
  private named: Map<string, Record<string, string>> | undefined;

  /** Applies one update line; returns whether any row changed. `counted`: which rows added or removed count. */
  apply(line: string, counted: (name: string) => boolean = () => true): boolean {
    const t = JSON.parse(line) as MonitorTable;
    const col = (r: unknown[], name: string) => r[t.headings.indexOf(name)];
    let last = '';
    let changed = false;
    for (const r of t.data) {
      const action = String(col(r, 'action'));
      const uuid = String(col(r, 'row') ?? '') || last;
      last = uuid;
      if (action === 'delete') {
        const gone = this.rows.get(uuid);
        if (gone) {
          this.rows.delete(uuid);
          changed = true;
          if (counted(gone.name)) this.addedOrRemoved++;
        }
      } else if (action !== 'old') {
        const name = String(col(r, 'name'));
        if (!this.rows.has(uuid) && counted(name)) this.addedOrRemoved++;
        this.rows.set(uuid, { name, bfd: ovsMap(col(r, 'bfd_status')) });
        changed = true;
      }
    }
    if (changed) this.named = undefined;
    return changed;
  }

  /**
   * Interface name → its bfd_status: one map per change, shared by its callers until the next (each line woke
   * the nudge, the status wait and its read with a map of every interface each); not to be changed.
   */
  byName(): Map<string, Record<string, string>> {
    return (this.named ??= new Map([...this.rows.values()].map((r) => [r.name, r.bfd])));
  }
}

export class BfdWatch {
  private rows = new InterfaceRows();
  private live = false;
  private child: ChildProcess | undefined;
  private timer: NodeJS.Timeout | undefined;
  private backoffMs: number;
  private closed = true;
  /** An ended watch was already reported (until it is live again). */
  private quiet = false;
  private readonly waiters = new Set<() => void>();
  /** Bumped whenever the watch goes live and whenever an interface row is added or removed (interfacesVersion). */
  private setVersion = 0;

  constructor(private readonly o: BfdWatchOptions) {
    this.backoffMs = o.retryFirstMs ?? 1000;
  }

  start(): void {
    if (!this.closed) return;
    this.closed = false;
    this.spawn();
  }

  stop(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.child?.kill();
    this.child = undefined;
    this.live = false;
    this.wake();
  }

  /** Started and not stopped (live or about to be: its child is running or will be started again). */
  running(): boolean {
    return !this.closed;
  }

  /** Interface name → bfd_status as OVS last wrote it; undefined while the watch is not live. */
  snapshot(): Map<string, Record<string, string>> | undefined {
    return this.live ? this.rows.byName() : undefined;
  }

  /**
   * A number that stays the same exactly as long as the watch has stayed live and seen no interface added or
   * removed (a port made or deleted, by anyone; the mesh's own tunnels aside); undefined while it is not live.
   * What was read from the database under one version still has the same ports while the version holds (what
   * the ports carry may have changed).
   */
  interfacesVersion(): number | undefined {
    return this.live ? this.setVersion : undefined;
  }

  /** Resolves at the next change OVS records (or when the watch stops), at the latest after timeoutMs or on abort. */
  changed(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        signal?.removeEventListener('abort', done);
        this.waiters.delete(done);
        resolve();
      };
      const t = setTimeout(done, Math.max(0, timeoutMs));
      signal?.addEventListener('abort', done, { once: true });
      this.waiters.add(done);
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  private spawn(): void {
    if (this.closed) return;
    let c: ChildProcess;
    try {
      c = this.o.runner.start('ovsdb-client', bfdMonitorArgs(this.o.ovsDb), { stdio: 'pipe' });
    } catch (err) {
      this.o.log.warn({ err: String(err) }, 'BFD watch not started; mesh status reads the database');
      return this.retry();
    }
    this.child = c;
    const rows = new InterfaceRows();
    let stderr = '';
    c.stderr?.on('data', (b: Buffer) => (stderr = (stderr + b.toString('utf8')).slice(-500)));
    c.on('error', () => undefined); // ENOENT and the like: 'close' follows and retries
    createInterface({ input: c.stdout! }).on('line', (line) => {
      let changed: boolean;
      const setBefore = rows.addedOrRemoved;
      try {
        changed = rows.apply(line, (name) => !this.o.ownPort?.(name));
      } catch {
        return; // not a table line (a warning): nothing to learn from it
      }
      if (rows.addedOrRemoved !== setBefore || !this.live) this.setVersion++;
      if (!this.live) {
        this.rows = rows; // the first table: everything from here on is current
        this.live = true;
        changed = true; // a wait can now read memory instead of the database
        this.backoffMs = this.o.retryFirstMs ?? 1000;
        this.quiet = false;
      }
      if (!changed) return;
      this.wake();
      this.o.onChange?.(this.rows.byName());
    });
    c.on('close', (code, sig) => {
      if (this.child !== c) return;
      this.child = undefined;
      this.live = false;
      this.wake();
      if (this.closed) return;
      // Said once per outage (a missing ovsdb-client or database would say it every retry otherwise).
      const level = this.quiet ? 'debug' : 'warn';
      this.quiet = true;
      this.o.log[level]({ code, sig, stderr: stderr.trim() }, 'BFD watch ended; starting it again');
      this.retry();
    });
  }

  private retry(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => this.spawn(), this.backoffMs);
    this.timer.unref();
    this.backoffMs = Math.min(this.backoffMs * 2, this.o.retryMaxMs ?? 30_000);
  }
}
