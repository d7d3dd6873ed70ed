// Controller benchmark (issue 5): allocations per second through the gRPC API, `fleetnet ls --json`
// with 100k attachments as a new CLI process, and the CLI end-to-end attach (new fleetnet process →
// controller → agent → Docker container). Writes bench/results/controller.json.
// Runs inside a network namespace of its own (it re-executes itself there), on that namespace's lo.
//   node --import tsx bench/controller.ts [--n 100000] [--concurrency 64] [--cli-n 20]
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { ExecRunner, type RunResult } from '../common/runner.js';
import { ControllerClient, type FleetAttachReply } from '../proto/gen/fleetnet/v1/controller.js';

const FLEETNET = join(process.cwd(), 'bin/fleetnet.mjs');
const CTL = '127.0.0.1:7440';
const RESULTS = 'bench/results/controller.json';

const { values: opt } = parseArgs({ options: { n: { type: 'string', default: '100000' }, concurrency: { type: 'string', default: '64' }, 'cli-n': { type: 'string', default: '20' }, 'full-n': { type: 'string', default: '5000' } } });
const N = Number(opt.n);
const CONC = Number(opt.concurrency);
const CLI_N = Number(opt['cli-n']);
const FULL_N = Number(opt['full-n']);

interface Row { name: string; p50Ms: number; p95Ms: number; n: number; meanMs: number; minMs: number; maxMs: number; timed: string; [k: string]: unknown }

function pct(s: number[], p: number): number {
  const a = [...s].sort((x, y) => x - y);
  return a[Math.min(a.length, Math.max(1, Math.ceil((p / 100) * a.length))) - 1] ?? Number.NaN;
}
const r2 = (x: number) => Math.round(x * 100) / 100;
function row(name: string, s: number[], timed: string, extra: Record<string, unknown> = {}): Row {
  return { name, p50Ms: r2(pct(s, 50)), p95Ms: r2(pct(s, 95)), n: s.length, meanMs: r2(s.reduce((a, b) => a + b, 0) / s.length), minMs: r2(Math.min(...s)), maxMs: r2(Math.max(...s)), timed, ...extra };
}

// Every command through the project's Runner, as argv.
const sh = new ExecRunner();
const run = (cmd: string, args: string[]): Promise<RunResult> => sh.run(cmd, args, { allowFail: true, timeoutMs: 120_000 });
const must = async (cmd: string, args: string[]): Promise<string> => (await sh.run(cmd, args, { timeoutMs: 120_000 })).stdout;

/** Wall time of one new process, spawn → exit, output discarded. */
function timeProcess(cmd: string, args: string[]): Promise<{ ms: number; code: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const p = sh.start(cmd, args, { stdio: 'ignore' });
    p.once('exit', (code) => resolve({ ms: performance.now() - t0, code: code ?? -1 }));
  });
}

async function waitReady(what: string, fn: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not come up`);
}

/** CPU seconds (user + system) a process has used so far, from /proc (clock ticks of 1/100 s). */
function cpuSeconds(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

function startController(db: string, sync: string): ChildProcess {
  return sh.start('node', [FLEETNET, 'controller', 'run', '--listen', CTL, '--db', db, '--synchronous', sync, '--log-level', 'error'], { stdio: 'inherit' });
}
const cli = (...args: string[]) => run('node', [FLEETNET, '--controller', CTL, ...args]);
const stop = (p: ChildProcess) => new Promise<void>((r) => (p.exitCode !== null ? r() : (p.once('exit', () => r()), p.kill('SIGTERM'))));

async function allocate(client: ControllerClient, prefix: string, n: number, conc: number): Promise<{ lat: number[]; seconds: number }> {
  const lat: number[] = new Array(n);
  let next = 0;
  const one = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const t0 = performance.now();
      client.fleetAttach(
        { host: 'hx', network: 'big', target: { kind: 'auto', value: `${prefix}${i}` }, ifname: '', addresses: [], mac: '', macString: '', vlan: '', mtu: 0, attachmentId: '', waitMs: 0 },
        new Metadata(), {},
        (err: ServiceError | null, _res: FleetAttachReply) => (err ? reject(err) : ((lat[i] = performance.now() - t0), resolve())),
      );
    });
  const t0 = performance.now();
  await Promise.all(Array.from({ length: conc }, async () => { while (next < n) await one(next++); }));
  return { lat, seconds: (performance.now() - t0) / 1000 };
}

async function inside(): Promise<void> {
  const loadavgAtStart = loadavg().map((x) => r2(x));
  const dir = mkdtempSync(join(tmpdir(), 'fcbench-'));
  const label = `fcbench-${process.pid}`;
  const procs: ChildProcess[] = [];
  const rows: Row[] = [];
  const notes: string[] = [];
  try {
    // 1. Allocations through gRPC, synchronous=NORMAL (the default), to a host whose agent is down
    //    (the dispatcher backs off; the path timed is request → transaction committed → reply).
    let ctl = startController(join(dir, 'state.db'), 'normal');
    procs.push(ctl);
    await waitReady('controller', async () => (await cli('hosts')).code === 0);
    await must('node', [FLEETNET, '--controller', CTL, 'host', 'add', 'hx', '--addr', '127.0.0.3:1']);
    await must('node', [FLEETNET, '--controller', CTL, 'net', 'create', 'big', '--subnet', '10.64.0.0/10']);
    const client = new ControllerClient(CTL, credentials.createInsecure());
    const cpu0 = cpuSeconds(ctl.pid);
    const a = await allocate(client, 'c', N, CONC);
    const cpuA = cpuSeconds(ctl.pid) - cpu0;
    rows.push(row(`FleetAttach allocations over gRPC (${N} into an empty /10, ${CONC} in flight, synchronous=NORMAL)`, a.lat,
      'one unary FleetAttach (--net allocation, wait_ms 0) request → reply on a kept-open channel: the decision in its own savepoint of a group-committed IMMEDIATE transaction (next free address after the cursor, XX:IP:IP:IP:YY:ZZ MAC checked fleet-wide and per network, attachment row, host generation), COMMIT, reply',
      { allocationsPerSecond: Math.round(N / a.seconds), controllerCpuSeconds: r2(cpuA), allocationsPerControllerCpuSecond: Math.round(N / cpuA) }));
    notes.push(`allocations/s, synchronous=NORMAL: ${Math.round(N / a.seconds)} wall-clock (${N} in ${a.seconds.toFixed(1)} s, ${CONC} requests in flight on one channel; target ≥ 10,000); the controller used ${cpuA.toFixed(1)} CPU-seconds for them: ${Math.round(N / cpuA)} allocations per CPU-second of the controller`);

    // 2. `fleetnet ls --json` with N attachments, as a user sees it: a new CLI process.
    const base: number[] = [];
    const lsT: number[] = [];
    for (let i = 0; i < 10; i++) base.push((await timeProcess('node', [FLEETNET, '--version'])).ms);
    for (let i = 0; i < 10; i++) {
      const t = await timeProcess('node', [FLEETNET, '--controller', CTL, 'ls', '--json']);
      if (t.code !== 0) throw new Error('ls --json failed');
      lsT.push(t.ms);
    }
    const bytes = (await cli('ls', '--json')).stdout.length;
    rows.push(row(`fleetnet ls --json, ${N} attachments (new CLI process)`, lsT, `spawn → exit of \`fleetnet --controller ${CTL} ls --json\` with stdout to /dev/null: Node start, CLI load, gRPC server stream of the store's pre-rendered JSON (${(bytes / 1e6).toFixed(1)} MB), written out`));
    rows.push(row('baseline: fleetnet --version (new CLI process)', base, 'spawn → exit of `fleetnet --version`: Node start and the CLI bundle, nothing else'));
    notes.push(`ls --json of ${N}: p50 ${r2(pct(lsT, 50))} ms (target < 200 ms), of which ${r2(pct(base, 50))} ms is starting Node and the CLI`);
    client.close();
    await stop(ctl);

    // 3. synchronous=FULL for comparison (fsync on every commit).
    ctl = startController(join(dir, 'full.db'), 'full');
    procs.push(ctl);
    await waitReady('controller (full)', async () => (await cli('hosts')).code === 0);
    await must('node', [FLEETNET, '--controller', CTL, 'host', 'add', 'hx', '--addr', '127.0.0.3:1']);
    await must('node', [FLEETNET, '--controller', CTL, 'net', 'create', 'big', '--subnet', '10.64.0.0/10']);
    const c2 = new ControllerClient(CTL, credentials.createInsecure());
    const cpu1 = cpuSeconds(ctl.pid);
    const f = await allocate(c2, 'f', FULL_N, CONC);
    const cpuF = cpuSeconds(ctl.pid) - cpu1;
    c2.close();
    rows.push(row(`FleetAttach allocations over gRPC (${FULL_N}, ${CONC} in flight, synchronous=FULL)`, f.lat, 'as above, with an fsync on every commit', { allocationsPerSecond: Math.round(FULL_N / f.seconds), controllerCpuSeconds: r2(cpuF), allocationsPerControllerCpuSecond: Math.round(FULL_N / cpuF) }));
    notes.push(`allocations/s, synchronous=FULL: ${Math.round(FULL_N / f.seconds)}`);

    // 4. CLI end to end: new fleetnet process → controller → agent (gRPC TCP) → Docker container → reply up.
    const agent = sh.start('node', [FLEETNET, 'agent', 'run', '--socket', join(dir, 'agent.sock'), '--state-dir', join(dir, 'agent'), '--listen', '127.0.0.1:7441', '--insecure-tcp', '--log-level', 'error'], { stdio: 'inherit' });
    procs.push(agent);
    await waitReady('agent', async () => (await run('node', [FLEETNET, '--socket', join(dir, 'agent.sock'), 'ls'])).code === 0);
    await must('node', [FLEETNET, '--controller', CTL, 'host', 'add', 'hb', '--addr', '127.0.0.1:7441']);
    await must('node', [FLEETNET, '--controller', CTL, 'net', 'create', 'bench', '--subnet', '10.9.0.0/16', '--bridge', 'brfcbench']);
    const { ensureTestImage, startContainer } = await import('../test/helpers/docker.js');
    await ensureTestImage();
    const names = Array.from({ length: CLI_N + 1 }, (_, i) => `${label}-${i}`);
    for (const n of names) await startContainer(n, label);
    const att: number[] = [];
    const det: number[] = [];
    for (const [i, n] of names.entries()) {
      const t = await timeProcess('node', [FLEETNET, '--controller', CTL, 'attach', '--host', 'hb', n, `10.9.0.${i + 10}/16`]);
      if (t.code !== 0) throw new Error(`attach ${n}: exit ${t.code}: ${(await cli('ls', '--host', 'hb')).stdout}`);
      if (i > 0) att.push(t.ms); // the first warms the bridge and Docker
    }
    for (const [i, n] of names.entries()) {
      const t = await timeProcess('node', [FLEETNET, '--controller', CTL, 'detach', '--host', 'hb', n]);
      if (t.code !== 0) throw new Error(`detach ${n}: exit ${t.code}`);
      if (i > 0) det.push(t.ms);
    }
    rows.push(row('fleetnet attach through the controller (new CLI process → controller → agent → Docker container)', att,
      'spawn → exit of `fleetnet --controller … attach --host hb NAME 10.9.0.X/16`: CLI start, FleetAttach, reservation committed, targeted dispatcher pass (agent Attach over gRPC TCP: Docker lookup, veth, addresses, read-back), attachment marked up, reply'));
    rows.push(row('fleetnet detach through the controller (new CLI process)', det, 'spawn → exit of `fleetnet --controller … detach --host hb NAME`: detach recorded, agent Detach, addresses released, reply'));
    notes.push('docker network connect --ip (the CLI attach comparison) needs the bench\'s second dockerd in a namespace (bench/ on branch bench), not on main when this ran: that comparison is not measured here');
    await run('docker', ['rm', '-f', ...names]);
    await stop(agent);
    await stop(ctl);
  } finally {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
    const left = (await run('docker', ['ps', '-aq', '--filter', `label=fleetnet.test=${label}`])).stdout.split('\n').filter(Boolean);
    if (left.length) await run('docker', ['rm', '-f', ...left]);
    rmSync(dir, { recursive: true, force: true });
  }
  const results = {
    title: 'Controller: allocations, fleet inventory, CLI attach through the controller',
    path: 'bench/controller.ts',
    rows,
    notes: [...notes, 'SQLite in WAL mode; synchronous=NORMAL is the default: a commit survives the process being killed (-9), a power loss may lose the last commits (synchronous=FULL closes that, at the rate shown)', 'everything ran inside one network namespace made for the bench, on its loopback'],
    date: new Date().toISOString(),
    loadavgAtStart,
    machine: { nproc: cpus().length, kernel: release(), cpu: cpus()[0]?.model, node: process.version, loadavgAtEnd: loadavg().map((x) => r2(x)) },
  };
  writeFileSync(RESULTS, JSON.stringify(results, null, 2) + '\n');
  for (const r of rows) process.stdout.write(`${r.name}\n  p50 ${r.p50Ms} ms  p95 ${r.p95Ms} ms  n ${r.n}${r.allocationsPerSecond ? `  ${String(r.allocationsPerSecond)}/s` : ''}\n`);
  for (const n of notes) process.stdout.write(`- ${n}\n`);
}

async function outside(): Promise<void> {
  const ns = `fcbench${process.pid.toString(36)}`;
  await must('ip', ['netns', 'add', ns]);
  try {
    await must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    const p = sh.start('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', 'bench/controller.ts', ...process.argv.slice(2)], {
      stdio: 'inherit', env: { ...process.env, FLEETNET_BENCH_NS: ns },
    });
    const code = await new Promise<number>((r) => p.once('exit', (c) => r(c ?? 1)));
    process.exitCode = code;
  } finally {
    await run('ip', ['netns', 'del', ns]);
  }
}

if (process.env.FLEETNET_BENCH_NS) await inside();
else await outside();
