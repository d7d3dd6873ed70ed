// Step 3 of bench/lifecycle.ts (issue 11): SCALE_N attaches to network-namespace targets from CLIENTS
// concurrent clients (attaches/s, goal ≥ 300/s, with the agent's and the clients' CPU per attach), then
// attach p50 onto the bridge holding those ports against an empty bridge (goal ≤ 1.2×). Runs inside the
// bench namespace, against the agent process lifecycle.ts started; its namespaces go with the bench's prefix.
import { performance } from 'node:perf_hooks';
import { connectAgent, type AgentConn } from '../cli/client/agent.js';
import { ExecRunner } from '../common/runner.js';
import { addrOf, attachOk, request } from './lib/agent-requests.js';
import type { Comparison, ResultRow } from './lib/results.js';
import { mapLimit, summarize } from './lib/stats.js';

const sh = new ExecRunner();
const r2 = (x: number) => Math.round(x * 100) / 100;

export interface ScaleInput {
  /** The bench's name prefix: the targets are namespaces `PREFIX-tN`. */
  prefix: string;
  socket: string;
  /** A warm client for the latency pairs. */
  conn: AgentConn;
  /** CPU seconds the agent process used so far. */
  agentCpuS: () => number;
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
  process.stdout.write(`CPU per attach: agent ${r2(cpuMsPerAttach)} ms, clients ${r2(clientMsPerAttach)} ms\n`);
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
