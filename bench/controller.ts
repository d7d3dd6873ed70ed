// Controller benchmark (issue 5): allocations per second through the gRPC API, `fleetnet ls --json`
// with 100k attachments as a new CLI process, and the CLI end-to-end attach (new fleetnet process →
// controller → agent → Docker container) interleaved with `docker network connect --ip` on a second
// dockerd in the same namespace. Writes bench/results/controller.json.
// Runs inside a network namespace of its own (it re-executes itself there with nsenter --net), on its lo.
//   node --import tsx bench/controller.ts [--n 100000] [--concurrency 64] [--connections 4] [--procs 2]
//     [--client frames|lite] [--cli-n 20]
//     [--batch-n 50000] [--batch-size 100]   (0 skips the FleetAttachBatch row)
//     [--baseline-cli /path/to/other/bin/fleetnet.mjs [--baseline-label 'main at abc123']]
//     (another build's CLI, timed interleaved with this tree's against the same controller)
//     [--baseline-controller /path/to/other/bin/fleetnet.mjs [--baseline-controller-label 'main at abc123']]
//     (another build's controller under the same single-request allocation load, right after this tree's)
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { makeLogger } from '../common/logger.js';
import { ExecRunner } from '../common/runner.js';
import { docker, dockerCli, ensureImage, startContainers, startSecondDockerd } from './lib/docker.js';
import { runAllocLoad } from './lib/alloc-load.js';
import {
  benchEnvIn,
  startDaemon,
  stopProcess,
  userEnvNote,
  userProcessEnv,
  waitReady,
  WORKPLACE_ONLY_ENV,
  type BenchEnv,
  type Daemon,
} from './lib/env.js';
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

const { values: opt } = parseArgs({
  options: {
    n: { type: 'string', default: '100000' },
    concurrency: { type: 'string', default: '64' },
    connections: { type: 'string', default: '4' },
    procs: { type: 'string', default: '2' },
    client: { type: 'string', default: 'frames' },
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
const CLIENT = opt.client === 'lite' ? 'lite' : 'frames';
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

const r2 = (x: number) => Math.round(x * 100) / 100;
const row = (name: string, s: number[], timed: string, extra: Record<string, unknown> = {}): ResultRow => ({
  name,
  ...summarize(s),
  timed,
  ...extra,
});
const load = () => loadavg().map(r2).join(' / ');

/** Wall time of one new process, spawn → exit, output discarded; as on a user's machine (userProcessEnv) unless told. */
function timeProcess(
  env: BenchEnv,
  cmd: string,
  args: string[],
  penv: NodeJS.ProcessEnv = userProcessEnv(),
): Promise<{ ms: number; code: number }> {
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

async function startController(env: BenchEnv, db: string, sync: string, bin = FLEETNET, listen = CTL): Promise<Daemon> {
  const d = startDaemon(
    env,
    `controller (${sync}, ${bin})`,
    process.execPath,
    [bin, 'controller', 'run', '--listen', listen, '--db', db, '--synchronous', sync, '--log-level', 'error'],
    `${db}.log`,
    10_000,
  );
  await waitReady('controller', d, 30_000, async () => (await cliAt(env, listen, 'hosts')).code === 0);
  return d;
}
const cliAt = (env: BenchEnv, ctl: string, ...args: string[]) =>
  env.runner.run(process.execPath, [FLEETNET, '--controller', ctl, ...args], { allowFail: true, timeoutMs: 120_000 });
const cli = (env: BenchEnv, ...args: string[]) => cliAt(env, CTL, ...args);
const must = async (env: BenchEnv, ...args: string[]) => {
  const r = await cli(env, ...args);
  if (r.code !== 0) throw new Error(`fleetnet ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
};
/** The bench's host (its agent never answers: the dispatcher backs off) and network, on the controller at ctl. */
async function fleetFor(env: BenchEnv, ctl: string): Promise<void> {
  for (const args of [
    ['host', 'add', 'hx', '--addr', '127.0.0.3:1'],
    ['net', 'create', 'big', '--subnet', '10.64.0.0/10'],
  ]) {
    const r = await cliAt(env, ctl, ...args);
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
  at = { addr: CTL, tag: '', server: 'its node:http2 unary path in front of grpc-js' },
): Promise<ResultRow> {
  const loadBefore = load();
  const conc = batch > 1 ? Math.max(CONNS, Math.round(CONC / batch) * 2) : CONC;
  const cpu0 = cpuSeconds(ctl.pid);
  const a = await runAllocLoad({ addr: at.addr, prefix, n, conc, conns: CONNS, procs: PROCS, batch, client: CLIENT });
  const cpu = cpuSeconds(ctl.pid) - cpu0;
  const perSec = Math.round(n / a.seconds);
  const callers = `${conc} in flight over ${CONNS} connections from ${PROCS} client processes`;
  const how =
    batch > 1 ? `FleetAttachBatch requests of ${batch} (${callers})` : `single FleetAttach requests (${callers})`;
  notes.push(
    `allocations/s${at.tag}, synchronous=${sync}, ${how}: ${perSec} wall-clock (${n} in ${a.seconds.toFixed(1)} s; ${sync === 'full' ? 'for comparison: the target is about the default, synchronous=normal' : `target ≥ 10,000: ${perSec >= 10_000 ? 'met' : 'NOT met'}${batch > 1 ? ' — by batching, not by single requests' : ''}`}); the controller used ${cpu.toFixed(1)} CPU-s: ${Math.round(n / cpu)} allocations per controller CPU-second (${Math.round((cpu / n) * 1e6)} µs each); the load generator ${a.clientCpuSeconds.toFixed(1)} CPU-s (${Math.round((a.clientCpuSeconds / n) * 1e6)} µs per allocation); ${a.checked} replies checked: each a new allocation, no address or MAC twice; load average ${loadBefore} before, ${load()} after`,
  );
  const name =
    batch > 1
      ? `FleetAttachBatch allocations over gRPC (${n}, ${batch} per request, ${conc} requests in flight on ${CONNS} connections, synchronous=${sync.toUpperCase()}) — per request`
      : `FleetAttach allocations over gRPC (${n}, single requests, ${conc} in flight on ${CONNS} connections, synchronous=${sync.toUpperCase()})${at.tag}`;
  const timed =
    batch > 1
      ? `one unary FleetAttachBatch of ${batch} allocations request → reply (each item its own decision, as below; they share group commits)`
      : `one unary FleetAttach (--net allocation, wait_ms 0) request → reply, over TCP on the controller's gRPC port (served by ${at.server}): decode, the decision in a group-committed IMMEDIATE transaction (next free address after the cursor, XX:IP:IP:IP:YY:ZZ MAC checked fleet-wide and per network, attachment row, host generation), COMMIT, encode, reply`;
  return row(name, a.lat, timed, {
    allocationsPerSecond: perSec,
    controllerCpuSeconds: r2(cpu),
    allocationsPerControllerCpuSecond: Math.round(n / cpu),
    loadGeneratorCpuSeconds: r2(a.clientCpuSeconds),
    loadavg: loadBefore,
    ...(batch > 1 ? { batchSize: batch } : {}),
  });
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
    rows.push(
      row(
        `fleetnet ls --json, ${count} attachments (new CLI process)${tag}`,
        ls[k]!,
        `spawn → exit of \`fleetnet --controller ${CTL} ls --json\`, stdout to /dev/null: Node start, CLI load, the controller's pre-rendered JSON (${(out.stdout.length / 1e6).toFixed(1)} MB) streamed and written out`,
      ),
    );
    rows.push(
      row(
        `baseline: fleetnet --version (new CLI process)${tag}`,
        ver[k]!,
        'spawn → exit of `fleetnet --version`: Node start and the CLI bundle, nothing else',
      ),
    );
  }
  rows.push(
    row(
      'floor: node -e "" (bare Node start)',
      bare,
      'Node start and exit with nothing loaded, in the environment of every timed process here (without NODE_EXTRA_CA_CERTS)',
    ),
  );
  rows.push(
    row(
      `floor: node -e "" with this workplace's ${WORKPLACE_ONLY_ENV.join(', ')}`,
      bareWorkplace,
      "the same with the bench's own environment: what every Node process here pays when the variable is left in",
    ),
  );
  const p50 = r2(percentile(ls[0]!, 50));
  notes.push(
    `ls --json of ${count}: p50 ${p50} ms (target < 200 ms: ${p50 < 200 ? 'met' : 'NOT met'}), of which ${r2(percentile(ver[0]!, 50))} ms is starting Node and the CLI; load average ${loadBefore} before, ${load()} after`,
  );
  if (BASELINE) comparisons.push(compare('ls --json: this tree / baseline CLI', ls[0]!, ls[1]!));
}

async function cliAttachRows(
  env: BenchEnv,
  rows: ResultRow[],
  notes: string[],
  comparisons: Comparison[],
): Promise<void> {
  const dir = env.tmp;
  const agent = startDaemon(
    env,
    'agent',
    'ip',
    [
      'netns',
      'exec',
      env.netns,
      process.execPath,
      FLEETNET,
      'agent',
      'run',
      '--socket',
      join(dir, 'agent.sock'),
      '--state-dir',
      join(dir, 'agent'),
      '--listen',
      '127.0.0.1:7441',
      '--insecure-tcp',
      '--log-level',
      'error',
    ],
    join(dir, 'agent.log'),
    10_000,
  );
  await waitReady(
    'agent',
    agent,
    30_000,
    async () =>
      (
        await env.runner.run(process.execPath, [FLEETNET, '--socket', join(dir, 'agent.sock'), 'ls'], {
          allowFail: true,
        })
      ).code === 0,
  );
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
  await docker(env, d2, [
    'network',
    'create',
    '--driver',
    'bridge',
    '--subnet',
    `10.${NET.park}.0.0/16`,
    '--label',
    d2.label,
    `park${env.runId}`,
  ]);
  const netId = (
    await docker(env, d2, [
      'network',
      'create',
      '--driver',
      'bridge',
      '--subnet',
      `10.${NET.docker}.0.0/16`,
      '--label',
      d2.label,
      `bench${env.runId}`,
    ])
  ).stdout.trim();
  const cs2 = await startContainers(env, d2, `fcd${env.runId}`, CLI_N, `park${env.runId}`);
  const paths = [
    controllerCliPath(env, cs, {
      name: 'fleetnet attach through the controller (new CLI process → controller → agent → Docker container)',
      bin: FLEETNET,
      controller: CTL,
      host: 'hb',
      bridge: 'brfcbench',
      net: NET.cli,
    }),
    dockerConnectPath(env, d2, cs2, {
      network: `bench${env.runId}`,
      bridge: `br-${netId.slice(0, 12)}`,
      net: NET.docker,
    }),
    ...(BASELINE
      ? [
          controllerCliPath(env, cs1, {
            name: `fleetnet attach through the controller — baseline CLI (${BASELINE_LABEL})`,
            bin: BASELINE,
            controller: CTL,
            host: 'hb',
            bridge: 'brfcbase',
            net: NET.baseline,
          }),
        ]
      : []),
  ];
  const loadBefore = load();
  const m = await measurePaths(env, paths, CLI_N, 2, env.log);
  for (const s of m) {
    rows.push(row(s.path.name, s.attachMs, s.path.timed));
    rows.push(row(`${s.path.name} — detach`, s.detachMs, s.path.detachTimed));
  }
  const c = compare(
    'fleetnet attach via controller (new CLI process) / docker network connect --ip',
    m[0]!.attachMs,
    m[1]!.attachMs,
    1.2,
  );
  comparisons.push(
    c,
    compare('fleetnet detach via controller / docker network disconnect', m[0]!.detachMs, m[1]!.detachMs),
  );
  if (BASELINE)
    comparisons.push(compare('attach via controller: this tree / baseline CLI', m[0]!.attachMs, m[2]!.attachMs));
  notes.push(
    `CLI attach through the controller vs docker network connect --ip, interleaved (attach i on every path, starting path rotating), each attach checked afterwards: ${c.ratio}× on p50 (paired ${c.pairedRatio}×; target ≤ 1.2×: ${c.met ? 'met' : 'NOT met'}); load average ${loadBefore} before, ${load()} after`,
  );
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
      notes.push(
        `allocations/s, this tree / baseline controller (${BASELINE_CTL_LABEL}), measured one after the other: ${String(mine.allocationsPerSecond)} / ${String(b.allocationsPerSecond)} = ${r2(Number(mine.allocationsPerSecond) / Number(b.allocationsPerSecond))}×; controller CPU per allocation ${Math.round(1e6 / Number(mine.allocationsPerControllerCpuSecond))} µs / ${Math.round(1e6 / Number(b.allocationsPerControllerCpuSecond))} µs`,
      );
    }
    // 2. `fleetnet ls --json` with N attachments, as a user sees it: a new CLI process.
    await lsRows(env, rows, notes, comparisons);
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
    notes: [
      ...notes,
      'the single-request rows are one allocation per FleetAttach request (the figure the target is about); the FleetAttachBatch row carries many per request and is reported beside it, never instead of it; either way the controller groups the decisions that arrive together into one commit',
      'SQLite in WAL mode; synchronous=NORMAL is the default: a commit survives the process being killed (-9), a power loss may lose the last commits (synchronous=FULL closes that, at the rate shown); no reply leaves before the COMMIT of its decision',
      `load generator: ${PROCS} client processes (bench/lib/alloc-client.ts), ${CLIENT === 'frames' ? "each speaking gRPC as hand-made HTTP/2 frames (bench/lib/h2-frames.ts: the least CPU per call, as h2load or ghz would, so that the load generator leaves the controller its CPU; the CLI's node:http2 client is the --client lite option)" : "each with the CLI's node:http2 client (cli/client/grpc-h2.ts)"}; every reply is decoded and checked (a new allocation with one address and a MAC), no address or MAC appears in two replies, and afterwards (untimed) each client process asks again for its first 200 attachments: each comes back with the address and MAC it was given`,
      "everything ran inside one network namespace made for the bench, on its loopback; the load generator, the controller, the agent and other helpers' work share this machine's CPUs",
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
  for (const r of rows)
    process.stdout.write(
      `${r.name}\n  p50 ${r.p50Ms} ms  p95 ${r.p95Ms} ms  n ${r.n}${r.allocationsPerSecond ? `  ${String(r.allocationsPerSecond)}/s` : ''}\n`,
    );
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
