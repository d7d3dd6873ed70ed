// The agent's netlink thread: the batches of the attach path run on a worker thread of their own
// (netlink-worker.ts), not on the thread that serves gRPC. A netlink request is a synchronous
// sendmsg(2) in which the kernel does all of the work (a veth pair made, a bridge port added, a
// gratuitous ARP flooded to every port): about half of an attach's CPU, and the main thread used to
// sit in it while 50 clients waited for their replies. The worker runs the same code (runBatch) with
// its own sockets; setns(2) moves only the calling thread, so its namespace visits touch nothing of
// the main thread's. When the worker file is missing (the self-contained agent file `host add --ssh`
// uploads), cannot load the native modules, or dies, the batches run in-process as before.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { FleetnetError, type ErrorKind } from '../../common/errors.js';
import type { LinkOp } from './link-ops.js';

/** A batch for the worker, and what it answers. */
export type ThreadRequest =
  | {
      id: number;
      netns?: string;
      ops: LinkOp[];
    }
  /** The agent is stopping: finish what is under way and end. */
  | { close: true };

/** How long a closing worker may take to end by itself before it is terminated. */
const CLOSE_GRACE_MS = 2000;
export type ThreadReply =
  | { id: number; rows: unknown[][] }
  | { id: number; error: { kind: ErrorKind; message: string; hint?: string } }
  /** Sent once, first, when the worker cannot load the native modules. */
  | { unavailable: string };

export interface NetlinkThread {
  /** Starts the worker now (else the first batch starts it); idempotent. */
  start(): void;
  run(netns: string | undefined, ops: LinkOp[]): Promise<unknown[][]>;
  close(): Promise<void>;
}

/** The worker's file: beside this module's source when run from source, beside the bundle when built. */
export function netlinkWorkerFile(): string | undefined {
  const here = fileURLToPath(import.meta.url);
  const file = here.endsWith('.ts')
    ? join(dirname(here), 'netlink-worker.ts')
    : join(dirname(here), 'netlink-worker.cjs');
  return existsSync(file) ? file : undefined;
}

/**
 * Starts the worker. `inProcess` runs a batch on the calling thread: used once the worker said it
 * cannot load its modules or has died (its batches under way then fail, as a crash would fail them).
 */
export function startNetlinkThread(
  file: string,
  inProcess: (netns: string | undefined, ops: LinkOp[]) => Promise<unknown[][]>,
  onDown: (why: string) => void,
): NetlinkThread {
  let worker: Worker | undefined;
  /** Settles when the worker has ended (by itself, by a crash or terminated). */
  let ended: Promise<void> = Promise.resolve();
  const pending = new Map<number, { resolve: (rows: unknown[][]) => void; reject: (err: Error) => void }>();
  let next = 1;
  let down: string | undefined;
  const fail = (why: string) => {
    if (!down) {
      down = why;
      onDown(why);
    }
    for (const [id, p] of pending) {
      pending.delete(id);
      p.reject(new FleetnetError('failed', `netlink thread: ${why}`));
    }
  };
  const start = (): Worker => {
    if (worker) return worker;
    const w = new Worker(file);
    worker = w;
    // Held only while a batch is under way: an idle worker never keeps the agent alive.
    w.unref();
    w.on('message', (m: ThreadReply) => {
      if ('unavailable' in m) return fail(m.unavailable);
      const p = pending.get(m.id);
      pending.delete(m.id);
      if (!pending.size) w.unref();
      if (!p) return;
      if ('rows' in m) p.resolve(m.rows);
      else p.reject(new FleetnetError(m.error.kind, m.error.message, m.error.hint ? { hint: m.error.hint } : {}));
    });
    w.on('error', (err) => fail(err.message));
    ended = new Promise((r) =>
      w.on('exit', (code) => {
        fail(`exited (code ${code})`);
        r();
      }),
    );
    return w;
  };
  return {
    start() {
      start();
    },
    run(netns, ops) {
      if (down) return inProcess(netns, ops);
      const w = start();
      const id = next++;
      return new Promise((resolve, reject) => {
        if (!pending.size) w.ref();
        pending.set(id, { resolve, reject });
        w.postMessage({ id, ...(netns !== undefined ? { netns } : {}), ops } satisfies ThreadRequest);
      });
    },
    async close() {
      down ??= 'closed';
      const w = worker;
      if (!w) return;
      // Asked to end, the worker finishes the batch under way and leaves on its own. Worker.terminate()
      // is only the fallback: stopping the thread under the netlink addon aborts the whole process
      // ("terminate called after throwing an instance of 'Napi::Error'").
      w.postMessage({ close: true } satisfies ThreadRequest);
      const timer = setTimeout(() => void w.terminate(), CLOSE_GRACE_MS);
      await ended;
      clearTimeout(timer);
    },
  };
}
