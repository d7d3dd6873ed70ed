// The controller allocation load: `procs` client processes (bench/lib/alloc-client.ts), each with
// its share of the calls in flight over its own HTTP/2 connections (the CLI's gRPC client on
// node:http2), started together once every one has connected. Wall time runs from the first
// process's start to the last one's end.
import { spawn } from 'node:child_process';
import { join } from 'node:path';

export interface AllocLoad {
  addr: string;
  /** Target names are PREFIX + index: unique per run, so every call is a new allocation. */
  prefix: string;
  n: number;
  /** Calls in flight, over all processes. */
  conc: number;
  /** HTTP/2 connections, over all processes. */
  conns: number;
  procs: number;
  /** 1: single FleetAttach requests; more: FleetAttachBatch of this many. */
  batch: number;
}

export interface AllocResult {
  lat: number[];
  seconds: number;
  /** CPU seconds the client processes used while running (the load generator's own cost). */
  clientCpuSeconds: number;
  /** Replies checked: every one a new allocation, no address and no MAC in two of them. */
  checked: number;
}

interface WorkerResult {
  startMs: number;
  endMs: number;
  cpuSeconds: number;
  lat: number[];
  got: string[];
}

interface Worker {
  ready: Promise<void>;
  result: Promise<WorkerResult>;
  go(): void;
}

function startWorker(args: string[]): Worker {
  const p = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'alloc-client.ts'), ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  let onReady: () => void;
  const ready = new Promise<void>((r) => (onReady = r));
  p.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (out.startsWith('ready\n')) onReady();
  });
  const result = new Promise<WorkerResult>((resolve, reject) => {
    p.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`allocation client ${args.join(' ')} exited ${code}`));
      resolve(JSON.parse(out.slice('ready\n'.length)) as WorkerResult);
    });
  });
  return { ready: Promise.race([ready, result.then(() => undefined)]), result, go: () => p.stdin.write('go\n') };
}

export async function runAllocLoad(o: AllocLoad): Promise<AllocResult> {
  const step = Math.max(1, o.batch);
  const workers: Worker[] = [];
  let from = 0;
  for (let k = 0; k < o.procs; k++) {
    // A share of n, in whole batches; the last process takes the rest.
    const share = k === o.procs - 1 ? o.n - from : Math.floor(o.n / o.procs / step) * step;
    const conc = Math.max(1, Math.round(o.conc / o.procs));
    const conns = Math.max(1, Math.round(o.conns / o.procs));
    workers.push(
      startWorker([o.addr, o.prefix, String(from), String(share), String(conc), String(conns), String(step)]),
    );
    from += share;
  }
  await Promise.all(workers.map((w) => w.ready));
  for (const w of workers) w.go();
  const rs = await Promise.all(workers.map((w) => w.result));
  const seconds = (Math.max(...rs.map((r) => r.endMs)) - Math.min(...rs.map((r) => r.startMs))) / 1000;
  const got = rs.flatMap((r) => r.got);
  if (got.length !== o.n) throw new Error(`${got.length} allocations acknowledged, ${o.n} asked for`);
  for (const [what, k] of [
    ['address', 0],
    ['MAC', 1],
  ] as const) {
    const seen = new Set(got.map((g) => g.split(' ')[k]));
    if (seen.size !== got.length)
      throw new Error(`an ${what} was handed out twice (${got.length - seen.size} duplicates)`);
  }
  return {
    lat: rs.flatMap((r) => r.lat),
    seconds,
    clientCpuSeconds: rs.reduce((s, r) => s + r.cpuSeconds, 0),
    checked: got.length,
  };
}
