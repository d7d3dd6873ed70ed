// Controller benchmark (issue 5): allocations per second through the gRPC API, `fleetnet ls --json`
// with 100k attachments as a new CLI process, and the CLI end-to-end attach (new fleetnet process →
// controller → agent → Docker container) interleaved with `docker network connect --ip` on a second
// dockerd in the same namespace. Writes bench/results/controller.json.
// Runs inside a network namespace of its own (it re-executes itself there with nsenter --net), on its lo.
//   node --import tsx bench/controller.ts [--n 100000] [--concurrency 64] [--connections 4] [--cli-n 20]
//     [--batch-n 50000] [--batch-size 100]   (0 skips the FleetAttachBatch row)
//     [--baseline-cli /path/to/other/bin/fleetnet.mjs [--baseline-label 'main at abc123']]
//     (another build's CLI, timed interleaved with this tree's against the same controller)
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { CONTROLLER_METHODS } from '../cli/client/controller.js';
import { GrpcLite } from '../cli/client/grpc-lite.js';
import { makeLogger } from '../common/logger.js';
import { ExecRunner } from '../common/runner.js';
import { docker, dockerCli, ensureImage, startContainers, startSecondDockerd } from './lib/docker.js';
import { benchEnvIn, startDaemon, stopProcess, userEnvNote, userProcessEnv, waitReady, WORKPLACE_ONLY_ENV, type BenchEnv, type Daemon } from './lib/env.js';
import { measurePaths } from './lib/measure.js';
import { writeResults, type Comparison, type ResultRow } from './lib/results.js';
import { percentile, summarize } from './lib/stats.js';
import { compare } from './lib/summary.js';
import { ensureBridge } from './lib/verify.js';
import { controllerCliPath } from './paths/controller-cli.js';
import { dockerConnectPath } from './paths/user-cli.js';

const FLEETNET = join(process.cwd(), 'bin/fleetnet.cjs'); // package.json's bin
const CTL = '127.0.0.1:7440';
const RESULTS = 'bench/results/controller.json';
const NET = { cli: 9, baseline: 10, docker: 206, park: 207 } as const;

const { values: opt } = parseArgs({ options: {
  n: { type: 'string', default: '100000' }, concurrency: { type: 'string', default: '64' }, connections: { type: 'string', default: '4' },
  'cli-n': { type: 'string', default: '20' }, 'batch-n': { type: 'string', default: '50000' }, 'batch-size': { type: 'string', default: '100' }, 'full-n': { type: 'string', default: '5000' }, 'baseline-cli': { type: 'string' },
  'baseline-label': { type: 'string' },
} });
const N = Number(opt.n);
const CONC = Number(opt.concurrency);
const CONNS = Number(opt.connections);
const CLI_N = Number(opt['cli-n']);
const FULL_N = Number(opt['full-n']);
const BATCH_N = Number(opt['batch-n']);
const BATCH = Number(opt['batch-size']);
const BASELINE = opt['baseline-cli'];
/** How the rows name the baseline CLI, e.g. "main at 12cbab1" (default: its path). */
const BASELINE_LABEL = opt['baseline-label'] ?? BASELINE;

const r2 = (x: number) => Math.round(x * 100) / 100;
const row = (name: string, s: number[], timed: string, extra: Record<string, unknown> = {}): ResultRow => ({ name, ...summarize(s), timed, ...extra });
const load = () => loadavg().map(r2).join(' / ');

/** Wall time of one new process, spawn → exit, output discarded; as on a user's machine (userProcessEnv) unless told. */
function timeProcess(env: BenchEnv, cmd: string, args: string[], penv: NodeJS.ProcessEnv = userProcessEnv()): Promise<{ ms: number; code: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const p = env.runner.start(cmd, args, { stdio: 'ignore', env: penv });
    p.once('exit', (code) => resolve({ ms: performance.now() - t0, code: code ?? -1 }));
  });
}

/** CPU seconds (user + system) a process has used so far, from /proc (clock ticks of 1/100 s). */
function cpuSeconds(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

async function startController(env: BenchEnv, db: string, sync: string): Promise<Daemon> {
  const d = startDaemon(env, `controller (${sync})`, process.execPath, [FLEETNET, 'controller', 'run', '--listen', CTL, '--db', db, '--synchronous', sync, '--log-level', 'error'], `${db}.log`, 10_000);
  await waitReady('controller', d, 30_000, async () => (await cli(env, 'hosts')).code === 0);
  return d;
}
const cli = (env: BenchEnv, ...args: string[]) => env.runner.run(process.execPath, [FLEETNET, '--controller', CTL, ...args], { allowFail: true, timeoutMs: 120_000 });
const must = async (env: BenchEnv, ...args: string[]) => {
  const r = await cli(env, ...args);
  if (r.code !== 0) throw new Error(`fleetnet ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
};

/**
 * N single FleetAttach requests (no batching: one allocation per request), `conc` in flight spread
 * over `conns` HTTP/2 connections of the CLI's light client (the load generator shares the 2 CPUs).
 */
async function allocate(prefix: string, n: number, conc: number, conns: number, batch: number): Promise<{ lat: number[]; seconds: number }> {
  const clients = Array.from({ length: conns }, () => new GrpcLite(CTL, 'the bench controller'));
  const req = (i: number) => ({ host: 'hx', network: 'big', target: { kind: 'auto', value: `${prefix}${i}` }, ifname: '', addresses: [], mac: '', macString: '', vlan: '', mtu: 0, attachmentId: '', waitMs: 0 });
  const lat: number[] = [];
  let next = 0;
  const one = async (c: GrpcLite, i: number) => {
    const t0 = performance.now();
    if (batch <= 1) await c.unary(CONTROLLER_METHODS.fleetAttach, req(i), 60_000);
    else {
      const count = Math.min(batch, n - i);
      const r = await c.unary(CONTROLLER_METHODS.fleetAttachBatch, { requests: Array.from({ length: count }, (_, k) => req(i + k)) }, 60_000);
      const refused = r.items.find((x) => x.errorKind);
      if (refused || r.items.length !== count) throw new Error(`batch at ${i}: ${refused?.error ?? `${r.items.length} replies for ${count}`}`);
    }
    lat.push(performance.now() - t0);
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: conc }, async (_, k) => {
    while (next < n) {
      const i = next;
      next += Math.max(1, batch);
      await one(clients[k % conns]!, i);
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  for (const c of clients) c.close();
  return { lat, seconds };
}

async function allocationsRow(env: BenchEnv, ctl: Daemon, prefix: string, n: number, sync: string, notes: string[], batch = 1): Promise<ResultRow> {
  const loadBefore = load();
  const conc = batch > 1 ? Math.max(CONNS, Math.round(CONC / batch) * 2) : CONC;
  const cpu0 = cpuSeconds(ctl.pid);
  const a = await allocate(prefix, n, conc, CONNS, batch);
  const cpu = cpuSeconds(ctl.pid) - cpu0;
  const perSec = Math.round(n / a.seconds);
  const how = batch > 1 ? `FleetAttachBatch requests of ${batch} (${conc} in flight over ${CONNS} connections)` : `single FleetAttach requests (${conc} in flight over ${CONNS} connections)`;
  notes.push(`allocations/s, synchronous=${sync}, ${how}: ${perSec} wall-clock (${n} in ${a.seconds.toFixed(1)} s; target ≥ 10,000: ${perSec >= 10_000 ? 'met' : 'NOT met'}${batch > 1 ? ' — by batching, not by single requests' : ''}); the controller used ${cpu.toFixed(1)} CPU-s: ${Math.round(n / cpu)} allocations per controller CPU-second (${Math.round((cpu / n) * 1e6)} µs each); load average ${loadBefore} before, ${load()} after`);
  const name = batch > 1
    ? `FleetAttachBatch allocations over gRPC (${n}, ${batch} per request, ${conc} requests in flight on ${CONNS} connections, synchronous=${sync.toUpperCase()}) — per request`
    : `FleetAttach allocations over gRPC (${n}, single requests, ${conc} in flight on ${CONNS} connections, synchronous=${sync.toUpperCase()})`;
  const timed = batch > 1
    ? `one unary FleetAttachBatch of ${batch} allocations request → reply (each item its own decision, as below; they share group commits)`
    : 'one unary FleetAttach (--net allocation, wait_ms 0) request → reply: the decision in a group-committed IMMEDIATE transaction (next free address after the cursor, XX:IP:IP:IP:YY:ZZ MAC checked fleet-wide and per network, attachment row, host generation), COMMIT, reply';
  return row(name, a.lat, timed, { allocationsPerSecond: perSec, controllerCpuSeconds: r2(cpu), allocationsPerControllerCpuSecond: Math.round(n / cpu), loadavg: loadBefore, ...(batch > 1 ? { batchSize: batch } : {}) });
}

/** ls --json (and --version as the floor), new processes, interleaved round by round with the baseline CLI. */
async function lsRows(env: BenchEnv, rows: ResultRow[], notes: string[], comparisons: Comparison[]): Promise<void> {
  const bins = [['this tree', FLEETNET], ...(BASELINE ? [['baseline', BASELINE]] : [])] as const;
  const ls = bins.map(() => [] as number[]);
  const ver = bins.map(() => [] as number[]);
  const bare: number[] = [];
  const bareWorkplace: number[] = [];
  const loadBefore = load();
  for (let i = 0; i < 10; i++) {
    bare.push((await timeProcess(env, process.execPath, ['-e', ''])).ms);
    bareWorkplace.push((await timeProcess(env, process.execPath, ['-e', ''], process.env)).ms);
    for (const [k, [, bin]] of bins.entries()) {
      ver[k]!.push((await timeProcess(env, process.execPath, [bin, '--version'])).ms);
      const t = await timeProcess(env, process.execPath, [bin, '--controller', CTL, 'ls', '--json']);
      if (t.code !== 0) throw new Error(`${bin} ls --json: exit ${t.code}`);
      ls[k]!.push(t.ms);
    }
  }
  const out = await cli(env, 'ls', '--json');
  const count = (JSON.parse(out.stdout) as unknown[]).length;
  for (const [k, [who]] of bins.entries()) {
    const tag = k === 0 ? '' : ` — ${who} CLI (${BASELINE_LABEL})`;
    rows.push(row(`fleetnet ls --json, ${count} attachments (new CLI process)${tag}`, ls[k]!, `spawn → exit of \`fleetnet --controller ${CTL} ls --json\`, stdout to /dev/null: Node start, CLI load, the controller's pre-rendered JSON (${(out.stdout.length / 1e6).toFixed(1)} MB) streamed and written out`));
    rows.push(row(`baseline: fleetnet --version (new CLI process)${tag}`, ver[k]!, 'spawn → exit of `fleetnet --version`: Node start and the CLI bundle, nothing else'));
  }
  rows.push(row('floor: node -e "" (bare Node start)', bare, 'Node start and exit with nothing loaded, in the environment of every timed process here (without NODE_EXTRA_CA_CERTS)'));
  rows.push(row(`floor: node -e "" with this workplace's ${WORKPLACE_ONLY_ENV.join(', ')}`, bareWorkplace, 'the same with the bench\'s own environment: what every Node process here pays when the variable is left in'));
  const p50 = r2(percentile(ls[0]!, 50));
  notes.push(`ls --json of ${count}: p50 ${p50} ms (target < 200 ms: ${p50 < 200 ? 'met' : 'NOT met'}), of which ${r2(percentile(ver[0]!, 50))} ms is starting Node and the CLI; load average ${loadBefore} before, ${load()} after`);
  if (BASELINE) comparisons.push(compare('ls --json: this tree / baseline CLI', ls[0]!, ls[1]!));
}

async function cliAttachRows(env: BenchEnv, rows: ResultRow[], notes: string[], comparisons: Comparison[]): Promise<void> {
  const dir = env.tmp;
  const agent = startDaemon(env, 'agent', 'ip', ['netns', 'exec', env.netns, process.execPath, FLEETNET, 'agent', 'run', '--socket', join(dir, 'agent.sock'), '--state-dir', join(dir, 'agent'), '--listen', '127.0.0.1:7441', '--insecure-tcp', '--log-level', 'error'], join(dir, 'agent.log'), 10_000);
  await waitReady('agent', agent, 30_000, async () => (await env.runner.run(process.execPath, [FLEETNET, '--socket', join(dir, 'agent.sock'), 'ls'], { allowFail: true })).code === 0);
  await must(env, 'host', 'add', 'hb', '--addr', '127.0.0.1:7441');
  await must(env, 'net', 'create', 'bench', '--subnet', `10.${NET.cli}.0.0/16`, '--bridge', 'brfcbench');
  await ensureBridge(env, 'brfcbench');
  if (BASELINE) {
    await must(env, 'net', 'create', 'benchbase', '--subnet', `10.${NET.baseline}.0.0/16`, '--bridge', 'brfcbase');
    await ensureBridge(env, 'brfcbase');
  }
  const d0 = dockerCli(env);
  await ensureImage(env, d0);
  const cs = await startContainers(env, d0, `fcb${env.runId}`, CLI_N, 'none');
  const cs1 = BASELINE ? await startContainers(env, d0, `fcc${env.runId}`, CLI_N, 'none') : [];
  const d2 = await startSecondDockerd(env);
  await ensureImage(env, d2);
  await docker(env, d2, ['network', 'create', '--driver', 'bridge', '--subnet', `10.${NET.park}.0.0/16`, '--label', d2.label, `park${env.runId}`]);
  const netId = (await docker(env, d2, ['network', 'create', '--driver', 'bridge', '--subnet', `10.${NET.docker}.0.0/16`, '--label', d2.label, `bench${env.runId}`])).stdout.trim();
  const cs2 = await startContainers(env, d2, `fcd${env.runId}`, CLI_N, `park${env.runId}`);
  const paths = [
    controllerCliPath(env, cs, { name: 'fleetnet attach through the controller (new CLI process → controller → agent → Docker container)', bin: FLEETNET, controller: CTL, host: 'hb', bridge: 'brfcbench', net: NET.cli }),
    dockerConnectPath(env, d2, cs2, { network: `bench${env.runId}`, bridge: `br-${netId.slice(0, 12)}`, net: NET.docker }),
    ...(BASELINE ? [controllerCliPath(env, cs1, { name: `fleetnet attach through the controller — baseline CLI (${BASELINE_LABEL})`, bin: BASELINE, controller: CTL, host: 'hb', bridge: 'brfcbase', net: NET.baseline })] : []),
  ];
  const loadBefore = load();
  const m = await measurePaths(env, paths, CLI_N, 2, env.log);
  for (const s of m) {
    rows.push(row(s.path.name, s.attachMs, s.path.timed));
    rows.push(row(`${s.path.name} — detach`, s.detachMs, s.path.detachTimed));
  }
  const c = compare('fleetnet attach via controller (new CLI process) / docker network connect --ip', m[0]!.attachMs, m[1]!.attachMs, 1.2);
  comparisons.push(c, compare('fleetnet detach via controller / docker network disconnect', m[0]!.detachMs, m[1]!.detachMs));
  if (BASELINE) comparisons.push(compare('attach via controller: this tree / baseline CLI', m[0]!.attachMs, m[2]!.attachMs));
  notes.push(`CLI attach through the controller vs docker network connect --ip, interleaved (attach i on every path, starting path rotating), each attach checked afterwards: ${c.ratio}× on p50 (paired ${c.pairedRatio}×; target ≤ 1.2×: ${c.met ? 'met' : 'NOT met'}); load average ${loadBefore} before, ${load()} after`);
  await stopProcess(agent.pid, 10_000);
}

async function inside(ns: string): Promise<void> {
  const loadavgAtStart = loadavg().map(r2);
  const dir = mkdtempSync(join(tmpdir(), 'fcbench-'));
  const env = benchEnvIn(makeLogger('warn', 'bench'), ns, dir);
  const rows: ResultRow[] = [];
  const notes: string[] = [];
  const comparisons: Comparison[] = [];
  try {
    // 1. Allocations, synchronous=NORMAL (the default), to a host whose agent is down (the dispatcher
    //    backs off; the path timed is request → transaction committed → reply).
    let ctl = await startController(env, join(dir, 'state.db'), 'normal');
    await must(env, 'host', 'add', 'hx', '--addr', '127.0.0.3:1');
    await must(env, 'net', 'create', 'big', '--subnet', '10.64.0.0/10');
    rows.push(await allocationsRow(env, ctl, 'c', N, 'normal', notes));
    // 2. `fleetnet ls --json` with N attachments, as a user sees it: a new CLI process.
    await lsRows(env, rows, notes, comparisons);
    // 2b. The same allocations batched (FleetAttachBatch), after ls so that ls saw exactly N.
    if (BATCH_N > 0) rows.push(await allocationsRow(env, ctl, 'b', BATCH_N, 'normal', notes, BATCH));
    await stopProcess(ctl.pid, 10_000);
    // 3. synchronous=FULL for comparison (fsync on every commit).
    ctl = await startController(env, join(dir, 'full.db'), 'full');
    await must(env, 'host', 'add', 'hx', '--addr', '127.0.0.3:1');
    await must(env, 'net', 'create', 'big', '--subnet', '10.64.0.0/10');
    rows.push(await allocationsRow(env, ctl, 'f', FULL_N, 'full', notes));
    // 4. CLI end to end against docker network connect, interleaved.
    await cliAttachRows(env, rows, notes, comparisons);
  } finally {
    await env.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
  writeResults(RESULTS, {
    title: 'Controller: allocations, fleet inventory, CLI attach through the controller',
    path: 'bench/controller.ts',
    rows,
    comparisons,
    notes: [...notes,
      'the single-request rows are one allocation per FleetAttach request (the figure the target is about); the FleetAttachBatch row carries many per request and is reported beside it, never instead of it; either way the controller groups the decisions that arrive together into one commit',
      'SQLite in WAL mode; synchronous=NORMAL is the default: a commit survives the process being killed (-9), a power loss may lose the last commits (synchronous=FULL closes that, at the rate shown)',
      'everything ran inside one network namespace made for the bench, on its loopback; the load generator, the controller, the agent and other helpers\' work share this machine\'s CPUs',
      userEnvNote()],
    date: new Date().toISOString(),
    loadavgAtStart,
    machine: { nproc: cpus().length, kernel: release(), cpu: cpus()[0]?.model, node: process.version, loadavgAtEnd: loadavg().map(r2) },
  });
  for (const r of rows) process.stdout.write(`${r.name}\n  p50 ${r.p50Ms} ms  p95 ${r.p95Ms} ms  n ${r.n}${r.allocationsPerSecond ? `  ${String(r.allocationsPerSecond)}/s` : ''}\n`);
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
    const p = sh.start('nsenter', [`--net=/run/netns/${ns}`, process.execPath, '--import', 'tsx', 'bench/controller.ts', ...process.argv.slice(2)], {
      stdio: 'inherit', env: { ...process.env, FLEETNET_BENCH_NS: ns },
    });
    process.exitCode = await new Promise<number>((r) => p.once('exit', (c) => r(c ?? 1)));
  } finally {
    await sh.run('ip', ['netns', 'del', ns], { allowFail: true });
  }
}

const insideNs = process.env.FLEETNET_BENCH_NS;
if (insideNs) await inside(insideNs);
else await outside();
