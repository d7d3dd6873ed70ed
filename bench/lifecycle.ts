// Container lifecycle benchmarks (issue 11), on one agent inside a bench network namespace:
//   1. `docker start` → the container's eth1 up with its address (the agent hears the start event and
//      re-applies the attachment): p50, goal ≤ 100 ms from the start call's return;
//   2. a "rebooted" host: agent stopped, every link in its namespace deleted, every container
//      restarted, agent started → all N attachments back (goal ≤ 2 s for 200);
//   3. 1,000 attaches to network-namespace targets from 50 concurrent clients: attaches/s (goal ≥ 300/s),
//      then attach p50 onto the bridge holding those 1,000 ports against an empty bridge (goal ≤ 1.2×)
//      (bench/lifecycle-scale.ts);
//   4. one full lifecycle reconcile pass over those attachments (an in-process agent on the same state).
// The parent makes the namespace, runs itself inside it (`ip netns exec`, so the agent's sysfs is the
// namespace's), and removes everything after, also on failure. Writes bench/results/lifecycle.json.
//   node --import tsx bench/lifecycle.ts [--start-n 30] [--reboot-n 200] [--scale-n 1000] [--clients 50]
//     [--lat-n 50] [--pass-n 10] [--results bench/results/lifecycle.json] [--agent-cpu-prof DIR]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import Docker from 'dockerode';
import { connectAgent } from '../cli/client/agent.js';
import { silentLogger } from '../common/logger.js';
import { ExecRunner } from '../common/runner.js';
import { agentConfig } from '../agent/config.js';
import { startAgent } from '../agent/main.js';
import { BUSYBOX_IMAGE, ensureBusyboxImage } from '../lab/image.js';
import { userEnvNote } from './lib/env.js';
import { writeResults, type Comparison, type ResultRow } from './lib/results.js';
import { mapLimit, summarize } from './lib/stats.js';
import { addrOf, attachOk, request } from './lib/agent-requests.js';
import { scaleStep } from './lifecycle-scale.js';

const { values: opt } = parseArgs({
  options: {
    'start-n': { type: 'string', default: '30' },
    'reboot-n': { type: 'string', default: '200' },
    'scale-n': { type: 'string', default: '1000' },
    clients: { type: 'string', default: '50' },
    'lat-n': { type: 'string', default: '50' },
    'pass-n': { type: 'string', default: '10' },
    results: { type: 'string', default: 'bench/results/lifecycle.json' },
    /** The agent runs with `node --cpu-prof --cpu-prof-dir DIR` (one profile per agent process). */
    'agent-cpu-prof': { type: 'string' },
    /** Everything the run makes is named PREFIX-… (default fnbl + 5 random letters or digits). */
    prefix: { type: 'string' },
    inner: { type: 'string' },
  },
});
if (opt.prefix !== undefined && !/^[a-z][a-z0-9]{1,11}$/.test(opt.prefix)) {
  console.error(`--prefix ${JSON.stringify(opt.prefix)}: 2-12 lower-case letters or digits, a letter first`);
  process.exit(2);
}
const START_N = Number(opt['start-n']);
const REBOOT_N = Math.max(Number(opt['reboot-n']), START_N);
const SCALE_N = Number(opt['scale-n']);
const CLIENTS = Number(opt.clients);
const LAT_N = Number(opt['lat-n']);
const PASS_N = Number(opt['pass-n']);
/** fleetnet.test labels are not fleetnet's own labels to the agent (no label attach looked for). */
const LABEL = 'fleetnet.test';
const sh = new ExecRunner();
const r2 = (x: number) => Math.round(x * 100) / 100;
const FLEETNET = join(process.cwd(), 'bin/fleetnet.mjs');

/** The parent: a namespace, this script inside it, and everything removed after. */
async function parent(): Promise<void> {
  const prefix = opt.prefix ?? `fnbl${Math.random().toString(36).slice(2, 7)}`;
  const ns = `${prefix}-host`;
  await sh.run('ip', ['netns', 'add', ns]);
  await sh.run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  const cleanup = async () => {
    const ps = await sh.run('docker', ['ps', '-aq', '--filter', `label=${LABEL}=${prefix}`], { allowFail: true });
    const ids = ps.stdout.split('\n').filter(Boolean);
    for (let i = 0; i < ids.length; i += 50) {
      await sh.run('docker', ['rm', '-f', ...ids.slice(i, i + 50)], { allowFail: true, timeoutMs: 300_000 });
    }
    const all = (await sh.run('ip', ['netns', 'list'])).stdout
      .split('\n')
      .map((l) => l.split(' ')[0]!)
      .filter((n) => n.startsWith(`${prefix}-`));
    for (const n of all) await sh.run('ip', ['netns', 'del', n], { allowFail: true });
  };
  const args = process.argv.slice(2);
  try {
    const code = await new Promise<number>((resolve) => {
      const argv = [
        'netns',
        'exec',
        ns,
        process.execPath,
        '--import',
        'tsx',
        'bench/lifecycle.ts',
        '--inner',
        prefix,
        ...args,
      ];
      const p = spawn('ip', argv, { stdio: 'inherit' });
      const stop = () => p.kill('SIGTERM');
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      p.on('exit', (c) => resolve(c ?? 1));
    });
    process.exitCode = code;
  } finally {
    await cleanup();
  }
}

/** eth1 with this address in the namespace of `pid` (read from /proc: no process run, so it can be polled). */
function upIn(pid: number, cidr: string): boolean {
  try {
    return (
      readFileSync(`/proc/${pid}/net/dev`, 'utf8').includes('eth1:') &&
      readFileSync(`/proc/${pid}/net/fib_trie`, 'utf8').includes(cidr.split('/')[0]!)
    );
  } catch {
    return false;
  }
}

/** Step 4: PASS_N full lifecycle passes over every record, timed in process (the agent process stopped). */
async function passStep(dir: string, rows: ResultRow[]): Promise<void> {
  const cfg = agentConfig({
    socket: join(dir, 'inproc.sock'),
    stateDir: join(dir, 'state'),
    lifecyclePassMs: 3_600_000,
    hostName: 'bench',
    logLevel: 'silent',
  });
  const h = await startAgent(cfg, silentLogger());
  try {
    // Only the passes asked for from here: no timer, no event-driven pass, no pass re-run after a joined one.
    await h.lifecycle.stop();
    await h.lifecycle.fullPass(); // the first one, started with the agent
    const passes: number[] = [];
    for (let k = 0; k < PASS_N; k++) {
      const s = performance.now();
      await h.lifecycle.fullPass();
      passes.push(performance.now() - s);
    }
    rows.push({
      name: `one lifecycle pass over ${SCALE_N + REBOOT_N} attachments`,
      ...summarize(passes),
      timed:
        "Lifecycle.fullPass() in process: Docker's container list, each record checked live " +
        `(sysfs, the namespace), the orphan sweep; ${SCALE_N} netns and ${REBOOT_N} Docker attachments, ` +
        'nothing to repair',
    });
  } finally {
    await h.stop();
  }
}

/** The rows of step 1 (docker start → eth1 up). */
function startRows(fromReturn: number[], fromCall: number[], rows: ResultRow[], comparisons: Comparison[]): void {
  const ret = summarize(fromReturn);
  rows.push({
    name: 'docker start returned → eth1 up with its address',
    ...ret,
    goalMs: 100,
    met: ret.p50Ms <= 100,
    timed:
      "from the return of Docker's container start call to eth1 with its address in the container " +
      "(read from /proc/PID/net, polled): the start event reaching the agent, the record's re-apply",
  });
  comparisons.push({
    what: 'docker start → eth1 up, p50 / the 100 ms goal',
    ratio: r2(ret.p50Ms / 100),
    target: 1,
    met: ret.p50Ms <= 100,
  });
  rows.push({
    name: 'docker start called → eth1 up with its address',
    ...summarize(fromCall),
    timed: 'the same from the start call itself (Docker starting the container included)',
  });
}

interface AgentProcess {
  stop(): Promise<void>;
  /** CPU seconds the agent used so far, its reaped children's included (/proc/PID/stat). */
  cpuS(): number;
  pid: number;
}

/** utime + stime + cutime + cstime of a process, in seconds. */
function cpuSecondsOf(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): utime..cstime are fields 14..17.
  return rest.slice(11, 15).reduce((a, x) => a + Number(x), 0) / 100;
}

async function startAgentProcess(dir: string): Promise<{ agent: AgentProcess; spawnedAt: number }> {
  const spawnedAt = performance.now();
  const p = spawn(
    process.execPath,
    [
      ...(opt['agent-cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', opt['agent-cpu-prof']] : []),
      FLEETNET,
      'agent',
      'run',
      '--socket',
      join(dir, 'agent.sock'),
      '--state-dir',
      join(dir, 'state'),
      '--log-level',
      'warn',
      '--lifecycle-pass-ms',
      '600000',
      '--host-name',
      'bench',
    ],
    { stdio: 'inherit' },
  );
  const stop = () =>
    new Promise<void>((resolve) => {
      if (p.exitCode !== null || p.signalCode !== null) return resolve();
      p.once('exit', () => resolve());
      p.kill('SIGTERM');
    });
  return { agent: { stop, cpuS: () => cpuSecondsOf(p.pid!), pid: p.pid! }, spawnedAt };
}

async function waitServing(socket: string): Promise<void> {
  const c = connectAgent(socket);
  try {
    for (let i = 0; ; i++) {
      try {
        await c.call(c.client.health, {}, 1000);
        return;
      } catch (err) {
        if (i > 300) throw err;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  } finally {
    c.close();
  }
}

async function inner(prefix: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const socket = join(dir, 'agent.sock');
  const docker = new Docker();
  await ensureBusyboxImage(sh);
  const rows: ResultRow[] = [];
  const comparisons: Comparison[] = [];
  const notes: string[] = [];
  let { agent } = await startAgentProcess(dir);
  await waitServing(socket);
  const conn = connectAgent(socket);
  try {
    // Containers for 1 and 2, each attached once to br-lc.
    const names = Array.from({ length: REBOOT_N }, (_, i) => `${prefix}-c${i}`);
    await mapLimit(names, 8, (n) =>
      sh.run('docker', [
        'run',
        '-d',
        '--network',
        'none',
        '--name',
        n,
        '--label',
        `${LABEL}=${prefix}`,
        BUSYBOX_IMAGE,
        'sleep',
        '36000',
      ]),
    );
    await mapLimit(names, 8, (n, i) => attachOk(conn, request('br-lc', { kind: 'docker', value: n }, addrOf(i, 0))));

    // 1. docker start → eth1 up with its address.
    const fromReturn: number[] = [];
    const fromCall: number[] = [];
    for (const [i, n] of names.slice(0, START_N).entries()) {
      const c = docker.getContainer(n);
      await c.stop({ t: 0 });
      await new Promise((r) => setTimeout(r, 50)); // the die event heard, the record stopped
      const t0 = performance.now();
      await c.start();
      const t1 = performance.now();
      const pid = (await c.inspect()).State.Pid;
      while (!upIn(pid, addrOf(i, 0))) await new Promise((r) => setImmediate(r));
      const t2 = performance.now();
      fromReturn.push(t2 - t1);
      fromCall.push(t2 - t0);
    }
    // --start-n 0 skips this step: no rows for it (a summary of nothing would be NaN)
    if (START_N > 0) startRows(fromReturn, fromCall, rows, comparisons);

    // 2. A "rebooted" host.
    await agent.stop();
    const links = (await sh.run('ip', ['-o', 'link', 'show'])).stdout
      .split('\n')
      .map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1])
      .filter((x): x is string => !!x && x !== 'lo');
    for (const l of links) await sh.run('ip', ['link', 'del', l], { allowFail: true });
    await mapLimit(names, 8, (n) => docker.getContainer(n).restart({ t: 0 }));
    const pids = await Promise.all(names.map(async (n) => (await docker.getContainer(n).inspect()).State.Pid));
    const started = await startAgentProcess(dir);
    agent = started.agent;
    const waiting = new Set(names.map((_, i) => i));
    while (waiting.size) {
      for (const i of waiting) if (upIn(pids[i]!, addrOf(i, 0))) waiting.delete(i);
      if (waiting.size) await new Promise((r) => setTimeout(r, 2));
    }
    const rebootMs = performance.now() - started.spawnedAt;
    rows.push({
      name: `rebooted host: ${REBOOT_N} attachments back`,
      p50Ms: r2(rebootMs),
      p95Ms: r2(rebootMs),
      n: 1,
      goalMs: REBOOT_N >= 200 ? 2000 : undefined,
      met: REBOOT_N >= 200 ? rebootMs <= 2000 : undefined,
      timed:
        "from spawning the agent (its links, bridge and every container's namespace gone; the containers started " +
        'again while it was down) to eth1 with its address in every container',
    });
    if (REBOOT_N >= 200) {
      comparisons.push({
        what: `rebooted host, ${REBOOT_N} back / the 2 s goal`,
        ratio: r2(rebootMs / 2000),
        target: 1,
        met: rebootMs <= 2000,
      });
    }
    await waitServing(socket);

    // 3. SCALE_N attaches to netns targets from CLIENTS clients, then attach latency on a full vs an empty bridge.
    await scaleStep(
      {
        prefix,
        socket,
        conn,
        agentCpuS: () => agent.cpuS(),
        agentPid: agent.pid,
        scaleN: SCALE_N,
        clients: CLIENTS,
        latN: LAT_N,
      },
      { rows, comparisons, notes },
    );

    // 4. One full lifecycle pass over every record (SCALE_N netns targets and REBOOT_N containers), in process.
    await agent.stop();
    // --pass-n 0 skips this step: no in-process agent, no rows (a summary of no passes would be NaN)
    if (PASS_N > 0) await passStep(dir, rows);
    notes.push(
      `Sizes: ${START_N} starts, ${REBOOT_N} attachments rebooted, ` +
        `${SCALE_N} attaches from ${CLIENTS} clients, ${LAT_N} interleaved latency pairs, ${PASS_N} passes.`,
    );
  } finally {
    conn.close();
    await agent.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  notes.push(
    `Load average at the end: ${loadavg().map(r2).join(' / ')}.`,
    userEnvNote(),
    'The agent runs as its own process (bin/fleetnet.mjs agent run, --log-level warn, in-process netlink ' +
      'when its native modules load) inside the bench namespace; containers are busybox with --network none.',
  );
  writeResults(opt.results!, {
    title: 'Container lifecycle: restart, reboot, scale on one host',
    path: 'bench/lifecycle.ts',
    date: new Date().toISOString(),
    machine: { nproc: availableParallelism(), kernel: release(), node: process.version },
    rows,
    comparisons,
    notes,
  });
  for (const r of rows) {
    const rate = r.attachesPerS ? `, ${String(r.attachesPerS)} attaches/s` : '';
    process.stdout.write(`${r.name}: p50 ${r.p50Ms} ms, p95 ${r.p95Ms} ms (n ${r.n})${rate}\n`);
  }
  for (const c of comparisons) {
    process.stdout.write(`${c.what}: ${c.ratio}${c.pairedRatio !== undefined ? ` (paired ${c.pairedRatio})` : ''}\n`);
  }
}

if (opt.inner) await inner(opt.inner);
else await parent();
