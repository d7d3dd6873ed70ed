// LXC's own state notifications, the LXC counterpart of the Docker event stream: `lxc-monitor`
// prints "'NAME' changed state to [RUNNING]" lines for every container of the LXC path, and a watch
// on the LXC path's directory sees a container's directory go (lxc-monitor says nothing of
// `lxc-destroy`). Events are hints: the child is started again with backoff when it dies, and
// after each (re)start the caller runs a full pass, which also covers the time it was down.
import type { ChildProcess } from 'node:child_process';
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Logger } from 'pino';
import { describeError } from '../../common/errors.js';
import type { Runner } from '../../common/runner.js';
import { DEFAULT_LXC_PATH } from '../containers/lxc.js';

export type LxcEventState = 'running' | 'stopped' | 'destroyed';

export interface LxcEvent {
  name: string;
  state: LxcEventState;
}

export interface LxcWatch {
  /** Stops the child and asks lxc-monitord to quit once it has no clients (it would linger 30 s). */
  close(): Promise<void>;
}

export interface LxcHandlers {
  onEvent(ev: LxcEvent): void;
  /** lxc-monitor is (again) listening: whatever happened before this was not heard. */
  onConnect?(): void;
}

export interface LxcWatchOptions {
  runner: Runner;
  log: Logger;
  /** Where the containers' directories are (lxc-monitor and lxc-info use LXC's default, the same). */
  lxcPath?: string;
  retryFirstMs?: number;
  retryMaxMs?: number;
  /**
   * lxc-monitor prints nothing when it has connected, and exits at once (exit 1, in ~0.3 s) when it
   * cannot reach lxc-monitord (which listens on an abstract socket in the network namespace of
   * whoever started it first): alive this long counts as listening.
   */
  listeningAfterMs?: number;
}

/** One line of lxc-monitor; undefined for the states between (STARTING, STOPPING, …) and exit-status lines. */
export function parseLxcMonitorLine(line: string): LxcEvent | undefined {
  const m = /^'(.+)' changed state to \[([A-Z]+)\]$/.exec(line.trim());
  if (!m) return undefined;
  if (m[2] === 'RUNNING') return { name: m[1]!, state: 'running' };
  if (m[2] === 'STOPPED') return { name: m[1]!, state: 'stopped' };
  return undefined;
}

export function watchLxcEvents(o: LxcWatchOptions, h: LxcHandlers): LxcWatch {
  const lxcPath = o.lxcPath ?? DEFAULT_LXC_PATH;
  const firstMs = o.retryFirstMs ?? 1000;
  let backoffMs = firstMs;
  let closed = false;
  let child: ChildProcess | undefined;
  let timer: NodeJS.Timeout | undefined;
  let listened = false;
  let told = false;

  const retry = () => {
    if (closed) return;
    timer = setTimeout(spawnMonitor, backoffMs);
    timer.unref();
    backoffMs = Math.min(backoffMs * 2, o.retryMaxMs ?? 30_000);
  };

  function spawnMonitor(): void {
    if (closed) return;
    // Every container: records are filtered by name in process, so attaching to another LXC
    // container never has to restart the child (and lose what happens meanwhile).
    const c = o.runner.start('lxc-monitor', ['-n', '.*'], { stdio: 'pipe' });
    child = c;
    let stderr = '';
    c.stderr?.on('data', (b: Buffer) => (stderr = (stderr + b.toString('utf8')).slice(-500)));
    createInterface({ input: c.stdout! }).on('line', (line) => {
      const ev = parseLxcMonitorLine(line);
      if (ev) h.onEvent(ev);
    });
    const startedAt = Date.now();
    let heard = false;
    const listening = setTimeout(() => {
      listened = heard = true;
      told = false;
      h.onConnect?.();
    }, o.listeningAfterMs ?? 1000);
    listening.unref();
    let gone = false;
    const exited = (why: string) => {
      if (gone) return;
      gone = true;
      clearTimeout(listening);
      if (child === c) child = undefined;
      if (closed) return;
      // Backoff starts over only after a child that ran a while (a slow failure is not mistaken for one).
      if (Date.now() - startedAt > 30_000) backoffMs = firstMs;
      // Said once, not at every retry of a monitor that cannot connect.
      o.log[heard || !told ? 'info' : 'debug'](
        { why, stderr: stderr.trim(), retryMs: backoffMs },
        'lxc-monitor ended; the full pass covers until it is back',
      );
      told = true;
      retry();
    };
    c.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        // No lxc-monitor (lxc-info may be missing too: containers found by cgroup): the pass alone.
        gone = true;
        clearTimeout(listening);
        o.log.debug('lxc-monitor is not installed; LXC containers are followed by the full pass');
        return;
      }
      exited(describeError(err));
    });
    c.on('close', (code, sig) => exited(`exit ${code ?? sig}`));
  }

  let dirWatch: FSWatcher | undefined;
  try {
    // lxc-destroy removes the container's directory last: its name going from the LXC path is the event.
    dirWatch = watch(lxcPath, (_type, file) => {
      if (file && !existsSync(join(lxcPath, file))) h.onEvent({ name: file, state: 'destroyed' });
    });
    dirWatch.on('error', (err) => {
      o.log.debug({ err: describeError(err) }, 'LXC path watch failed; the full pass finds destroyed containers');
      dirWatch?.close();
    });
  } catch (err) {
    o.log.debug({ err: describeError(err), lxcPath }, 'LXC path not watched; the full pass finds destroyed containers');
  }
  spawnMonitor();

  return {
    async close() {
      closed = true;
      clearTimeout(timer);
      dirWatch?.close();
      const c = child;
      if (c && c.exitCode === null && c.signalCode === null) {
        const ended = new Promise<void>((resolve) => c.once('close', () => resolve()));
        c.kill('SIGTERM');
        await Promise.race([ended, new Promise((r) => setTimeout(r, 2000).unref())]);
      }
      if (!listened) return;
      // Without clients lxc-monitord lingers 30 s in this network namespace, where no other
      // namespace's lxc-monitor can reach it: ask it to go as soon as it has none.
      await o.runner
        .run('lxc-monitor', ['-Q'], { allowFail: true, timeoutMs: 3000 })
        .catch((err: unknown) => o.log.debug({ err: describeError(err) }, 'lxc-monitor -Q failed'));
    },
  };
}
