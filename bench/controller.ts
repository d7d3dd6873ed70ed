// Controller benchmark (issue 5): allocations per second through the gRPC API, `fleetnet ls --json`
// with 100k attachments as a new CLI process, and the CLI end-to-end attach (new fleetnet process →
// controller → agent → Docker container) interleaved with `docker network connect --ip` on a second
// dockerd in the same namespace. Writes bench/results/controller.json.
// Runs inside a network namespace of its own (it re-executes itself there with nsenter --net), on its lo.
//   node --import tsx bench/controller.ts [--n 100000] [--concurrency 64] [--connections 4] [--procs 2]
//     [--cli-n 20]
//     [--batch-n 50000] [--batch-size 100]   (0 skips the FleetAttachBatch row)
//     [--baseline-cli /path/to/other/bin/fleetnet.mjs [--baseline-label 'main at abc123']]
//     (another build's CLI, timed interleaved with this tree's against the same controller)
//     [--baseline-controller /path/to/other/bin/fleetnet.mjs [--baseline-controller-label 'main at abc123']]
//     (another build's controller under the same single-request allocation load, right after this tree's)
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { makeLogger } from '../common/logger.js';
import { ExecRunner } from '../common/runner.js';
import { runAllocLoad } from './lib/alloc-load.js';
import { cliAt, cliAttachRows, lsRows } from './lib/controller-cli-rows.js';
import { benchEnvIn, startDaemon, stopProcess, userEnvNote, waitReady, type BenchEnv, type Daemon } from './lib/env.js';
import { load, r2, row, writeResults, type Comparison, type ResultRow } from './lib/results.js';

const FLEETNET = join(process.cwd(), 'bin/fleetnet.cjs'); // package.json's bin
const CTL = '127.0.0.1:7440';
const RESULTS = 'bench/results/controller.json';
const NET = { cli: 9, baseline: 10, docker: 206, park: 207 } as const;

const { values: opt } = parseArgs({
  options: {
    n: { type: 'string', default: '100000' },
    concurrency: { type: 'string', default: '64' },
    connections: { type: 'string', default: '4' },
    procs: { type: 'string', default: '2' },
    'cli-n': { type: 'string', default: '20' },
    'batch-n': { type: 'string', default: '50000' },
    'batch-size': { type: 'string', default: '100' },
    'full-n': { type: 'string', default: '5000' },
    'baseline-cli': { type: 'string' },
    'baseline-label': { type: 'string' },
    'baseline-controller': { type: 'string' },
    'baseline-controller-label': { type: 'string' },
  },
});
const N = Number(opt.n);
const CONC = Number(opt.concurrency);
const CONNS = Number(opt.connections);
const PROCS = Number(opt.procs);
const CLI_N = Number(opt['cli-n']);
const FULL_N = Number(opt['full-n']);
const BATCH_N = Number(opt['batch-n']);
const BATCH = Number(opt['batch-size']);
const BASELINE = opt['baseline-cli'];
/** How the rows name the baseline CLI, e.g. "main at 12cbab1" (default: its path). */
const BASELINE_LABEL = opt['baseline-label'] ?? BASELINE;
/** Another build's bin/fleetnet.mjs whose controller takes the same single-request allocation load. */
const BASELINE_CTL = opt['baseline-controller'];
const BASELINE_CTL_LABEL = opt['baseline-controller-label'] ?? BASELINE_CTL;

/** CPU seconds (user + system) a process has used so far, from /proc (clock ticks of 1/100 s). */
function cpuSeconds(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function startController(env: BenchEnv, db: string, sync: string, bin = FLEETNET, listen = CTL): Promise<Daemon> {
  const d = startDaemon(
    env,
    `controller (${sync}, ${bin})`,
    process.execPath,
    [bin, 'controller', 'run', '--listen', listen, '--db', db, '--synchronous', sync, '--log-level', 'error'],
    `${db}.log`,
    10_000,
  );
  await waitReady('controller', d, 30_000, async () => (await cliAt(env, FLEETNET, listen, 'hosts')).code === 0);
  return d;
}
/** The bench's host (its agent never answers: the dispatcher backs off) and network, on the controller at ctl. */
async function fleetFor(env: BenchEnv, ctl: string): Promise<void> {
  for (const args of [
    ['host', 'add', 'hx', '--addr', '127.0.0.3:1'],
    ['net', 'create', 'big', '--subnet', '10.64.0.0/10'],
  ]) {
    const r = await cliAt(env, FLEETNET, ctl, ...args);
    if (r.code !== 0) throw new Error(`fleetnet ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
  }
}

async function allocationsRow(
  env: BenchEnv,
  ctl: Daemon,
  prefix: string,
  n: number,
  sync: string,
  notes: string[],
  batch = 1,
  at = { addr: CTL, tag: '', server: 'grpc-js, through its public API and its one authorization interceptor' },
): Promise<ResultRow> {
  const loadBefore = load();
  const conc = batch > 1 ? Math.max(CONNS, Math.round(CONC / batch) * 2) : CONC;
  const cpu0 = cpuSeconds(ctl.pid);
  const a = await runAllocLoad({ addr: at.addr, prefix, n, conc, conns: CONNS, procs: PROCS, batch });
  const cpu = cpuSeconds(ctl.pid) - cpu0;
  const perSec = Math.round(n / a.seconds);
  const callers = `${conc} in flight over ${CONNS} connections from ${PROCS} client processes`;
  const how =
    batch > 1 ? `FleetAttachBatch requests of ${batch} (${callers})` : `single FleetAttach requests (${callers})`;
  const target =
    sync === 'full'
      ? 'for comparison: the target is about the default, synchronous=normal'
      : `target ≥ 5,000 (issue 12): ${perSec >= 5_000 ? 'met' : 'NOT met'}` +
        (batch > 1 ? ' — by batching, not by single requests' : '');
  notes.push(
    `allocations/s${at.tag}, synchronous=${sync}, ${how}: ${perSec} wall-clock ` +
      `(${n} in ${a.seconds.toFixed(1)} s; ${target}); ` +
      `the controller used ${cpu.toFixed(1)} CPU-s: ${Math.round(n / cpu)} allocations per controller CPU-second ` +
      `(${Math.round((cpu / n) * 1e6)} µs each); ` +
      `the load generator ${a.clientCpuSeconds.toFixed(1)} CPU-s ` +
      `(${Math.round((a.clientCpuSeconds / n) * 1e6)} µs per allocation); ` +
      `${a.checked} replies checked: each a new allocation, no address or MAC twice; ` +
      `load average ${loadBefore} before, ${load()} after`,
  );
  const name =
    batch > 1
      ? `FleetAttachBatch allocations over gRPC (${n}, ${batch} per request, ` +
        `${conc} requests in flight on ${CONNS} connections, synchronous=${sync.toUpperCase()}) — per request`
      : `FleetAttach allocations over gRPC (${n}, single requests, ` +
        `${conc} in flight on ${CONNS} connections, synchronous=${sync.toUpperCase()})${at.tag}`;
  const timed =
    batch > 1
      ? `one unary FleetAttachBatch of ${batch} allocations request → reply ` +
        '(each item its own decision, as below; they share group commits)'
      : 'one unary FleetAttach (--net allocation, wait_ms 0) request → reply, ' +
        `over TCP on the controller's gRPC port (served by ${at.server}): ` +
        'decode, the decision in a group-committed IMMEDIATE transaction ' +
        '(next free address after the cursor, XX:IP:IP:IP:YY:ZZ MAC checked fleet-wide and per network, ' +
        'attachment row, host generation), COMMIT, encode, reply';
  return row(name, a.lat, timed, {
    allocationsPerSecond: perSec,
    controllerCpuSeconds: r2(cpu),
    allocationsPerControllerCpuSecond: Math.round(n / cpu),
    loadGeneratorCpuSeconds: r2(a.clientCpuSeconds),
    loadavg: loadBefore,
    ...(batch > 1 ? { batchSize: batch } : {}),
  });
}

async function inside(ns: string): Promise<void> {
  const loadavgAtStart = loadavg().map(r2);
  const dir = mkdtempSync(join(tmpdir(), 'fcbench-'));
  const env = benchEnvIn(makeLogger('warn', 'bench'), ns, dir);
  const rows: ResultRow[] = [];
  const notes: string[] = [];
  const comparisons: Comparison[] = [];
  const baseline = BASELINE ? { bin: BASELINE, label: BASELINE_LABEL ?? BASELINE } : undefined;
  const cliBench = { env, fleetnet: FLEETNET, ctl: CTL, baseline, cliN: CLI_N, net: NET, rows, notes, comparisons };
  try {
    // 1. Allocations, synchronous=NORMAL (the default), to a host whose agent is down (the dispatcher
    //    backs off; the path timed is request → transaction committed → reply).
    let ctl = await startController(env, join(dir, 'state.db'), 'normal');
    await fleetFor(env, CTL);
    rows.push(await allocationsRow(env, ctl, 'c', N, 'normal', notes));
    // 1b. The same load against another build's controller, right after (same minutes, same load generator).
    if (BASELINE_CTL) {
      const at = {
        addr: '127.0.0.1:7450',
        tag: ` — baseline controller (${BASELINE_CTL_LABEL})`,
        server: "that build's server",
      };
      const old = await startController(env, join(dir, 'baseline.db'), 'normal', BASELINE_CTL, at.addr);
      await fleetFor(env, at.addr);
      const b = await allocationsRow(env, old, 'c', N, 'normal', notes, 1, at);
      await stopProcess(old.pid, 10_000);
      rows.push(b);
      const mine = rows.at(-2)!;
      const cpuUs = (r: typeof b) => Math.round(1e6 / Number(r.allocationsPerControllerCpuSecond));
      notes.push(
        `allocations/s, this tree / baseline controller (${BASELINE_CTL_LABEL}), measured one after the other: ` +
          `${String(mine.allocationsPerSecond)} / ${String(b.allocationsPerSecond)} = ` +
          `${r2(Number(mine.allocationsPerSecond) / Number(b.allocationsPerSecond))}×; ` +
          `controller CPU per allocation ${cpuUs(mine)} µs / ${cpuUs(b)} µs`,
      );
    }
    // 2. `fleetnet ls --json` with N attachments, as a user sees it: a new CLI process.
    await lsRows(cliBench);
    // 2b. The same allocations batched (FleetAttachBatch), after ls so that ls saw exactly N.
    if (BATCH_N > 0) rows.push(await allocationsRow(env, ctl, 'b', BATCH_N, 'normal', notes, BATCH));
    await stopProcess(ctl.pid, 10_000);
    // 3. synchronous=FULL for comparison (fsync on every commit).
    ctl = await startController(env, join(dir, 'full.db'), 'full');
    await fleetFor(env, CTL);
    rows.push(await allocationsRow(env, ctl, 'f', FULL_N, 'full', notes));
    await stopProcess(ctl.pid, 10_000);
    // 4. CLI end to end against docker network connect, interleaved, on a controller with the default
    //    settings (synchronous=normal), as a user runs it.
    ctl = await startController(env, join(dir, 'cli.db'), 'normal');
    await cliAttachRows(cliBench);
  } finally {
    await env.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
  writeResults(RESULTS, {
    title: 'Controller: allocations, fleet inventory, CLI attach through the controller',
    path: 'bench/controller.ts',
    rows,
    comparisons,
    notes: [
      ...notes,
      'the single-request rows are one allocation per FleetAttach request (the figure the target is about); ' +
        'the FleetAttachBatch row carries many per request and is reported beside it, never instead of it; ' +
        'either way the controller groups the decisions that arrive together into one commit',
      'SQLite in WAL mode; synchronous=NORMAL is the default: ' +
        'a commit survives the process being killed (-9), ' +
        'a power loss may lose the last commits (synchronous=FULL closes that, at the rate shown); ' +
        'no reply leaves before the COMMIT of its decision',
      `load generator: ${PROCS} client processes (bench/lib/alloc-client.ts), ` +
        "each with the CLI's gRPC client on node:http2 (cli/client/grpc-h2.ts); " +
        "its CPU is reported beside the controller's and shares the machine with it; " +
        'every reply is decoded and checked (a new allocation with one address and a MAC), ' +
        'no address or MAC appears in two replies, ' +
        'and afterwards (untimed) each client process asks again for its first 200 attachments: ' +
        'each comes back with the address and MAC it was given',
      'everything ran inside one network namespace made for the bench, on its loopback; ' +
        "the load generator, the controller, the agent and other helpers' work share this machine's CPUs",
      userEnvNote(),
    ],
    date: new Date().toISOString(),
    loadavgAtStart,
    machine: {
      nproc: cpus().length,
      kernel: release(),
      cpu: cpus()[0]?.model,
      node: process.version,
      loadavgAtEnd: loadavg().map(r2),
    },
  });
  for (const r of rows) {
    const perSec = r.allocationsPerSecond ? `  ${String(r.allocationsPerSecond)}/s` : '';
    process.stdout.write(`${r.name}\n  p50 ${r.p50Ms} ms  p95 ${r.p95Ms} ms  n ${r.n}${perSec}\n`);
  }
  for (const c of comparisons) process.stdout.write(`${c.what}: ${c.ratio}× (paired ${c.pairedRatio}×)\n`);
  for (const n of notes) process.stdout.write(`- ${n}\n`);
}

async function outside(): Promise<void> {
  const sh = new ExecRunner();
  const ns = `fcbench${process.pid.toString(36)}`;
  await sh.run('ip', ['netns', 'add', ns]);
  try {
    await sh.run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    // nsenter --net, not ip netns exec: the second dockerd needs the machine's cgroup mounts, which
    // ip netns exec's private mount namespace hides (the agent, which reads /sys, gets ip netns exec).
    const p = sh.start(
      'nsenter',
      [`--net=/run/netns/${ns}`, process.execPath, '--import', 'tsx', 'bench/controller.ts', ...process.argv.slice(2)],
      {
        stdio: 'inherit',
        env: { ...process.env, FLEETNET_BENCH_NS: ns },
      },
    );
    process.exitCode = await new Promise<number>((r) => p.once('exit', (c) => r(c ?? 1)));
  } finally {
    await sh.run('ip', ['netns', 'del', ns], { allowFail: true });
  }
}

const insideNs = process.env.FLEETNET_BENCH_NS;
if (insideNs) await inside(insideNs);
else await outside();
