// Step 3 of bench/lifecycle.ts (issue 11): SCALE_N attaches to network-namespace targets from CLIENTS
// concurrent clients (attaches/s, goal ≥ 300/s, with the agent's and the clients' CPU per attach), then
// attach p50 onto the bridge holding those ports against an empty bridge (goal ≤ 1.2×). Runs inside the
// bench namespace, against the agent process lifecycle.ts started; its namespaces go with the bench's prefix.
import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { connectAgent, type AgentConn } from '../cli/client/agent.js';
import { ExecRunner } from '../common/runner.js';
import { addrOf, attachOk, request } from './lib/agent-requests.js';
import type { Comparison, ResultRow } from './lib/results.js';
import { mapLimit, summarize } from './lib/stats.js';

const sh = new ExecRunner();
const r2 = (x: number) => Math.round(x * 100) / 100;

interface ThreadCpu {
  name: string;
  user: number;
  sys: number;
}

/** CPU seconds (user, system) of each thread of `pid`, by thread id, with its name. */
function threadCpu(pid: number): Map<string, ThreadCpu> {
  const out = new Map<string, ThreadCpu>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const f = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      out.set(tid, {
        name: tid === String(pid) ? 'main' : name,
        user: Number(rest[11]) / 100,
        sys: Number(rest[12]) / 100,
      });
    } catch {
      /* the thread ended */
    }
  }
  return out;
}

/** The machine's CPU time so far (all CPUs), in seconds: busy (all but idle and iowait) and all. */
function machineCpu(): { busy: number; all: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const all = f.reduce((a, b) => a + b, 0);
  return { busy: (all - f[3]! - f[4]!) / 100, all: all / 100 };
}

/** Each thread's CPU ms per attach (user + system) between two snapshots, by thread name, largest first. */
function threadShares(a: Map<string, ThreadCpu>, b: Map<string, ThreadCpu>, n: number): string {
  const by = new Map<string, { user: number; sys: number }>();
  for (const [tid, t] of b) {
    const e = by.get(t.name) ?? { user: 0, sys: 0 };
    e.user += t.user - (a.get(tid)?.user ?? 0);
    e.sys += t.sys - (a.get(tid)?.sys ?? 0);
    by.set(t.name, e);
  }
  const ms = (s: number) => r2((s * 1000) / n);
  return [...by]
    .filter(([, e]) => e.user + e.sys > 0)
    .sort((x, y) => y[1].user + y[1].sys - (x[1].user + x[1].sys))
    .map(([name, e]) => `${name} ${ms(e.user + e.sys)} (${ms(e.user)} user + ${ms(e.sys)} system)`)
    .join(', ');
}

export interface ScaleInput {
  /** The bench's name prefix: the targets are namespaces `PREFIX-tN`. */
  prefix: string;
  socket: string;
  /** A warm client for the latency pairs. */
  conn: AgentConn;
  /** CPU seconds the agent process used so far. */
  agentCpuS: () => number;
  /** The agent process: its threads' CPU is reported one by one. */
  agentPid?: number;
  scaleN: number;
  clients: number;
  latN: number;
}

export async function scaleStep(
  x: ScaleInput,
  out: { rows: ResultRow[]; comparisons: Comparison[]; notes: string[] },
): Promise<void> {
  const { prefix, socket, conn, scaleN: SCALE_N, clients: CLIENTS, latN: LAT_N } = x;
  const { rows, comparisons, notes } = out;
  const targets = Array.from({ length: SCALE_N + 2 * LAT_N }, (_, i) => `${prefix}-t${i}`);
  await mapLimit(targets, 8, (t) => sh.run('ip', ['netns', 'add', t]));
  const clients = Array.from({ length: CLIENTS }, () => connectAgent(socket));
  const each: number[] = [];
  const cpu0 = x.agentCpuS();
  const threads0 = x.agentPid ? threadCpu(x.agentPid) : undefined;
  const machine0 = machineCpu();
  const ownCpu0 = process.cpuUsage();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    clients.map(async (c) => {
      while (next < SCALE_N) {
        const i = next++;
        const s = performance.now();
        await attachOk(c, request('br-full', { kind: 'netns', value: targets[i]! }, addrOf(i, 1)));
        each.push(performance.now() - s);
      }
    }),
  );
  const wallMs = performance.now() - t0;
  const cpuMsPerAttach = ((x.agentCpuS() - cpu0) * 1000) / SCALE_N;
  const machine1 = machineCpu();
  const threads = x.agentPid && threads0 ? threadShares(threads0, threadCpu(x.agentPid), SCALE_N) : undefined;
  const busyShare = (machine1.busy - machine0.busy) / (machine1.all - machine0.all);
  const ownCpu = process.cpuUsage(ownCpu0);
  const clientMsPerAttach = (ownCpu.user + ownCpu.system) / 1000 / SCALE_N;
  for (const c of clients) c.close();
  const perS = SCALE_N / (wallMs / 1000);
  rows.push({
    name: `${SCALE_N} attaches from ${CLIENTS} concurrent clients (each)`,
    ...summarize(each),
    timed: 'one Attach RPC to a network-namespace target, as its client saw it, while the others ran',
  });
  rows.push({
    name: `${SCALE_N} attaches from ${CLIENTS} concurrent clients (wall)`,
    p50Ms: r2(wallMs),
    p95Ms: r2(wallMs),
    n: 1,
    attachesPerS: r2(perS),
    goalPerS: 300,
    met: perS >= 300,
    timed: `wall time of all ${SCALE_N}; attaches/s = ${r2(perS)}`,
  });
  notes.push(
    `Agent CPU per attach during the ${SCALE_N}: ${r2(cpuMsPerAttach)} ms (user + system, its reaped children ` +
      'included; /proc/PID/stat), over all its threads: the one that serves gRPC and the netlink thread ' +
      'that makes the links (agent/linux/netlink-thread.ts); ' +
      `the ${CLIENTS} clients' process ${r2(clientMsPerAttach)} ms.`,
  );
  notes.push(
    `During the ${SCALE_N}: the machine's CPUs were ${Math.round(busyShare * 100)}% busy (/proc/stat, every ` +
      `process); ` +
      (threads ? `the agent's threads, CPU ms per attach: ${threads}.` : ''),
  );
  process.stdout.write(
    `CPU per attach: agent ${r2(cpuMsPerAttach)} ms, clients ${r2(clientMsPerAttach)} ms; machine ` +
      `${Math.round(busyShare * 100)}% busy; ${r2(perS)} attaches/s; threads: ${threads ?? '?'}\n`,
  );
  comparisons.push({
    what: `the 300/s goal / attaches/s from ${CLIENTS} clients`,
    ratio: r2(300 / perS),
    target: 1,
    met: perS >= 300,
  });
  const full: number[] = [];
  const empty: number[] = [];
  const paired: number[] = [];
  const first = { kind: 'netns', value: targets[SCALE_N]! };
  await attachOk(conn, request('br-empty', first, addrOf(0, 2))); // makes the bridge
  await conn.call(conn.client.detach, { target: first, ifname: 'eth1', attachmentId: '' });
  for (let k = 0; k < LAT_N; k++) {
    const tf = targets[SCALE_N + k]!;
    const te = targets[SCALE_N + LAT_N + k]!;
    let s = performance.now();
    await attachOk(conn, request('br-full', { kind: 'netns', value: tf }, addrOf(SCALE_N + k, 1)));
    const f = performance.now() - s;
    s = performance.now();
    await attachOk(conn, request('br-empty', { kind: 'netns', value: te }, addrOf(k + 1, 2)));
    const e = performance.now() - s;
    full.push(f);
    empty.push(e);
    paired.push(f / e);
    // Both back as they were (outside the clock): the full bridge keeps its SCALE_N ports, the empty one none.
    await conn.call(conn.client.detach, { target: { kind: 'netns', value: tf }, ifname: 'eth1', attachmentId: '' });
    await conn.call(conn.client.detach, { target: { kind: 'netns', value: te }, ifname: 'eth1', attachmentId: '' });
  }
  const [fs, es] = [summarize(full), summarize(empty)];
  rows.push({
    name: `attach onto a bridge with ${SCALE_N} ports`,
    ...fs,
    timed: 'one Attach RPC to a netns target from a warm client, nothing else running',
  });
  rows.push({ name: 'attach onto an empty bridge', ...es, timed: 'the same, interleaved with the row above' });
  const sp = [...paired].sort((a, b) => a - b);
  comparisons.push({
    what: `attach p50: bridge with ${SCALE_N} ports / empty bridge`,
    ratio: r2(fs.p50Ms / es.p50Ms),
    pairedRatio: r2(sp[Math.floor(sp.length / 2)] ?? Number.NaN),
    target: 1.2,
    met: fs.p50Ms / es.p50Ms <= 1.2,
  });
}
