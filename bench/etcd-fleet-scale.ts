// Fleet scale (issue 13): a lab of N+1 hosts (one user-space Open vSwitch each) and a controller
// in its own namespace (on etcd with --etcd M, else SQLite), one OVS network meshed with GRE.
// Timed as a user sees it, through the CLI inside the lab: the full mesh of N hosts built (one
// `mesh add h1 … hN` as an operator meshes a fleet, or with --one-by-one a `mesh add` per host, then
// until `mesh status` says every tunnel is up; goal <= 30 s at N=50), then the
// (N+1)th host joining (goal <= 2 s; one port added per existing member; with --joins K, hosts N+1 … N+K
// join one at a time, each after the same rest, and the median is the figure: default 5, since one join on
// this 2-CPU lab varies by ±0.4 s from run to run), and the controller's
// CPU time and resident memory while it holds N+1 hosts. Each is one `mesh add --wait` (it returns when
// the last agent's BFD sessions are up); --poll: `mesh add`, then `mesh status` every 200 ms as before.
// Prints JSON. Needs root; the lab is removed at the end (also on failure).
// With --timeline, the join's stages (wall clock, ms after the `mesh add`), the newcomer's ports and the
// peers' apart: when each tunnel port appeared, had BFD on, said init and said up (each host's OVS
// Interface table, watched), when the controller decided and had each agent's reply, when each agent got
// its plan and had applied it (their logs; the lab's controller logs at info then), and the bench's
// `mesh status` calls, so the slow stage shows. Always: the CPU time of each role's lab processes
// (their reaped children included: an agent's ovs-vsctl and ip) during 2 s at rest before the join and
// during the join, and how busy the machine was (/proc/stat). --keep-logs DIR keeps the lab's logs.
//   node --import tsx bench/etcd-fleet-scale.ts [--hosts 50] [--etcd 0|1|3] [--one-by-one] [--timeline] [--poll]
//     [--keep-logs DIR] [--rest-s 2 (rest before each join)] [--joins 5]
import { cp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { ExecRunner } from '../common/runner.js';
import { fleetnetBin } from '../lab/agents.js';
import { labDown } from '../lab/down.js';
import { readLabState } from '../lab/state.js';
import { labUp } from '../lab/up.js';

const { values: opt } = parseArgs({
  options: {
    hosts: { type: 'string', default: '50' },
    etcd: { type: 'string', default: '0' },
    'one-by-one': { type: 'boolean', default: false },
    timeline: { type: 'boolean', default: false },
    poll: { type: 'boolean', default: false },
    'keep-logs': { type: 'string' },
    'rest-s': { type: 'string', default: '2' },
    joins: { type: 'string', default: '5' },
  },
});
const N = Number(opt.hosts);
const ETCD = Number(opt.etcd);
const REST_MS = Number(opt['rest-s']) * 1000;
const JOINS = Math.max(1, Number(opt.joins));
const name = `fs${randomBytes(2).toString('hex')}`;
const sh = new ExecRunner();
const bin = fleetnetBin();
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' / ');
const loadBefore = load();
const TICK_MS = 10; // USER_HZ 100: /proc/PID/stat counts CPU time in 10 ms ticks

/** The controller's CPU time (ms, user + system) and resident memory (KiB), from /proc. */
async function usage(pid: number): Promise<{ cpuMs: number; rssKiB: number }> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return { cpuMs: (Number(f[11]) + Number(f[12])) * TICK_MS, rssKiB: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) };
}

/** Tunnels `mesh status -o json` printed as not up (-1: no JSON). */
function notUpCount(stdout: string): number {
  try {
    const j = JSON.parse(stdout) as { tunnels?: { state: string }[] } | { state: string }[];
    const ts = Array.isArray(j) ? j : (j.tunnels ?? []);
    return ts.filter((t) => t.state !== 'up').length;
  } catch {
    return -1;
  }
}

/**
 * CPU time (ms) of each role's lab processes, their reaped children included (an agent's ovs-vsctl and ip), and
 * as `ROLEChildren` the children's part alone.
 */
async function roleCpu(procs: { pid: number; role: string }[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const p of procs) {
    const stat = await readFile(`/proc/${p.pid}/stat`, 'utf8').catch(() => '');
    if (!stat) continue;
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const own = Number(f[11]) + Number(f[12]);
    const children = Number(f[13]) + Number(f[14]);
    out[p.role] = (out[p.role] ?? 0) + (own + children) * TICK_MS;
    if (children) out[`${p.role}Children`] = (out[`${p.role}Children`] ?? 0) + children * TICK_MS;
  }
  return out;
}

/** The machine's busy and total CPU time (ms, all CPUs) from /proc/stat. */
async function machineCpu(): Promise<{ busyMs: number; totalMs: number }> {
  const f = (await readFile('/proc/stat', 'utf8')).split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busyMs: (total - f[3]! - f[4]!) * TICK_MS, totalMs: total * TICK_MS };
}

/** CPU per role (and the machine's busy share) between two readings. */
const cpuDelta = (
  a: { roles: Record<string, number>; m: { busyMs: number; totalMs: number } },
  b: { roles: Record<string, number>; m: { busyMs: number; totalMs: number } },
) => ({
  ...Object.fromEntries(Object.entries(b.roles).map(([k, v]) => [`${k}Ms`, v - (a.roles[k] ?? 0)])),
  machineBusyPct: Math.round((100 * (b.m.busyMs - a.m.busyMs)) / Math.max(1, b.m.totalMs - a.m.totalMs)),
});

const stats = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]! : -1);
  return { n: s.length, first: q(0), p50: q(0.5), p90: q(0.9), last: s.length ? s[s.length - 1]! : -1 };
};

/**
 * Watches each host's OVS Interface table (`ovsdb-client monitor`, one JSON line per change) from
 * before the join: when each tunnel port appeared (its agent's apply) and when its BFD session said
 * up and forwarding (what `mesh status` reports), wall clock.
 */
function watchBfd(hosts: { netns: string; ovsDb: string }[]) {
  /** Per side (the newcomer's ports, the peers'), per stage: when each port reached it. */
  const stages = ['made', 'bfdOn', 'init', 'up'] as const;
  const ev = { newcomer: new Map<string, number[]>(), peers: new Map<string, number[]>() };
  const seen = new Set<string>();
  const procs = hosts.map((h, i) => {
    const p = sh.start(
      'ip',
      [
        'netns',
        'exec',
        h.netns,
        'ovsdb-client',
        '--format=json',
        'monitor',
        h.ovsDb,
        'Open_vSwitch',
        'Interface',
        'name,bfd_status',
      ],
      { stdio: 'pipe' },
    );
    const side = i === hosts.length - 1 ? ev.newcomer : ev.peers;
    let initial = true;
    let buf = '';
    const mark = (key: string, stage: (typeof stages)[number], now: number) => {
      if (seen.has(`${key}/${stage}`)) return;
      seen.add(`${key}/${stage}`);
      if (!initial) side.set(stage, [...(side.get(stage) ?? []), now]);
    };
    p.stdout!.on('data', (b: Buffer) => {
      const now = Date.now();
      buf += b.toString('utf8');
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const line of lines) {
        const t = JSON.parse(line) as { data: [string, string, string | null, ['map', [string, string][]]][] };
        for (const [, action, name, bfd] of t.data) {
          if (!name || name.startsWith('br-') || name.startsWith('ovs-')) continue;
          const key = `${i}/${name}`;
          if (action === 'insert' || action === 'initial') mark(key, 'made', now);
          const st = Object.fromEntries(bfd[1]);
          if (st.state) mark(key, 'bfdOn', now);
          if (st.state === 'init') mark(key, 'init', now);
          if (st.state === 'up' && st.forwarding === 'true') mark(key, 'up', now);
        }
        initial = false;
      }
    });
    return p;
  });
  const sideResult = (m: Map<string, number[]>, t0: number) =>
    Object.fromEntries(stages.map((s) => [s, stats((m.get(s) ?? []).map((t) => t - t0))]));
  return {
    stop: () => procs.forEach((p) => p.kill()),
    result: (t0: number) => ({ newcomerPorts: sideResult(ev.newcomer, t0), peerPorts: sideResult(ev.peers, t0) }),
  };
}

/** The pino lines (agent, controller) at or after t0 whose msg matches: their time and `ms` field. */
async function logEvents(file: string, t0: number, msg: string): Promise<{ t: number; ms: number }[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const out: { t: number; ms: number }[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{') || !line.includes(msg)) continue;
    const j = JSON.parse(line) as { time?: number; msg?: string; ms?: number };
    if (j.msg === msg && Number(j.time) >= t0) out.push({ t: Number(j.time), ms: j.ms ?? 0 });
  }
  return out;
}

/**
 * The join's stages in ms after the `mesh add` (controller's and agents' logs, the bench's rounds): when each
 * agent got its plan and when it had applied it, when the controller had each reply.
 */
async function joinTimeline(
  labDir: string,
  ctlDir: string,
  hosts: { name: string }[],
  t0: number,
  rounds: { startMs: number; endMs: number; notUp: number }[],
) {
  const applied: { t: number; ms: number }[] = [];
  for (const h of hosts) applied.push(...(await logEvents(join(labDir, h.name, 'agent.log'), t0, 'mesh converged')));
  const pushed = await logEvents(join(ctlDir, 'controller.log'), t0, 'mesh pushed');
  const decided = await logEvents(join(ctlDir, 'controller.log'), t0, 'hosts joined the mesh');
  return {
    controllerDecided: decided.map((e) => e.t - t0),
    agentsGotPlan: stats(applied.map((e) => e.t - e.ms - t0)),
    agentsApplied: stats(applied.map((e) => e.t - t0)),
    agentApplyMs: stats(applied.map((e) => e.ms)),
    controllerHadReply: stats(pushed.map((e) => e.t - t0)),
    pushRoundTripMs: stats(pushed.map((e) => e.ms)),
    statusRounds: rounds.map((r) => ({ start: r.startMs - t0, end: r.endMs - t0, notUp: r.notUp })),
  };
}

const t0 = performance.now();
const lab = await labUp({
  name,
  hosts: N + JOINS,
  controllers: 1,
  etcd: ETCD,
  ...(opt.timeline ? { controllerLogLevel: 'info' } : {}),
});
try {
  const labUpSeconds = (performance.now() - t0) / 1000;
  const ctl = lab.controllers[0]!;
  const procs = readLabState(`${lab.dir}/lab.json`)!.processes;
  const pid = procs.find((p) => p.role === 'controller')!.pid;
  const cpuNow = async () => ({ roles: await roleCpu(procs), m: await machineCpu() });
  const cli = async (args: string[]) =>
    sh.run('ip', ['netns', 'exec', lab.hosts[0]!.netns, process.execPath, bin, '--controller', ctl.listen, ...args], {
      allowFail: true,
      timeoutMs: 300_000,
    });
  const must = async (args: string[]) => {
    const r = await cli(args);
    if (r.code !== 0 && r.code !== 3) throw new Error(`fleetnet ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
  };
  /**
   * The `mesh status` rounds of one stage (wall clock): when each started and ended, and how many tunnels were
   * not up.
   */
  let rounds: { startMs: number; endMs: number; notUp: number }[] = [];
  const allUp = async (deadlineMs: number) => {
    rounds = [];
    if (!opt.poll) {
      // One `mesh status --wait`: it answers when the last agent says its tunnels are up.
      const startMs = Date.now();
      const waitS = String(Math.ceil((deadlineMs - performance.now()) / 1000));
      const r = await cli(['mesh', 'status', '--net', 'scale', '-o', 'json', '--wait', waitS]);
      rounds.push({ startMs, endMs: Date.now(), notUp: notUpCount(r.stdout) });
      return r.code === 0;
    }
    while (performance.now() < deadlineMs) {
      const startMs = Date.now();
      const r = await cli(['mesh', 'status', '--net', 'scale', '-o', 'json']);
      rounds.push({ startMs, endMs: Date.now(), notUp: notUpCount(r.stdout) });
      if (r.code === 0) return true;
      await new Promise((r) => setTimeout(r, 200));
    }
    return false;
  };
  await must([
    'net',
    'create',
    'scale',
    '--subnet',
    '10.40.0.0/16',
    '--kind',
    'ovs',
    '--bridge',
    'ovs-scale',
    '--mesh',
    'gre',
  ]);
  /**
   * `mesh add`, then until every tunnel is up: one `mesh add --wait` (the command returns when the last
   * agent's BFD sessions are up), or with --poll the add and then `mesh status` every 200 ms. The add
   * command's own time is known only with --poll.
   */
  const addUntilUp = async (hosts: string[], waitMs: number): Promise<{ up: boolean; addMs?: number }> => {
    const t = performance.now();
    if (opt.poll) {
      await must(['mesh', 'add', ...hosts, '--net', 'scale']);
      const addMs = performance.now() - t;
      return { up: await allUp(t + waitMs), addMs };
    }
    const startMs = Date.now();
    const r = await cli(['mesh', 'add', ...hosts, '--net', 'scale', '--wait', String(waitMs / 1000)]);
    if (![0, 1, 3].includes(r.code)) throw new Error(`fleetnet mesh add: exit ${r.code}: ${r.stderr}`);
    if (r.code !== 0) process.stderr.write(`mesh add ${hosts.length} host(s) --wait: exit ${r.code}: ${r.stderr}`);
    rounds = [{ startMs, endMs: Date.now(), notUp: -1 }];
    return { up: r.code === 0 };
  };
  const before = await usage(pid);
  const b0 = performance.now();
  const members = lab.hosts.slice(0, N).map((h) => h.name);
  let build: { up: boolean; addMs?: number };
  if (opt['one-by-one']) {
    for (const h of members) await must(['mesh', 'add', h, '--net', 'scale']);
    build = { addMs: performance.now() - b0, up: false };
    build.up = await allUp(b0 + 300_000);
  } else build = await addUntilUp(members, 300_000);
  const buildMs = performance.now() - b0;
  const afterBuild = await usage(pid);
  const watch = opt.timeline ? watchBfd(lab.hosts.slice(0, N + 1)) : undefined;
  if (watch) await new Promise((r) => setTimeout(r, 1000)); // each monitor's initial table read
  // The lab at rest for --rest-s (what the join competes with; the CPU of its last 2 s is reported), then the join.
  if (REST_MS > 2000) await new Promise((r) => setTimeout(r, REST_MS - 2000));
  const r0 = await cpuNow();
  await new Promise((r) => setTimeout(r, Math.min(REST_MS, 2000)));
  const r1 = await cpuNow();
  const j0 = performance.now();
  const j0Wall = Date.now();
  const joined = await addUntilUp([lab.hosts[N]!.name], 120_000);
  const joinMs = performance.now() - j0;
  const j1 = await cpuNow();
  watch?.stop();
  // Hosts N+2 … N+JOINS join the same way, one at a time, each after the same rest: a join is one noisy sample.
  const joins = [{ ms: Math.round(joinMs), up: joined.up, newPorts: 2 * N }];
  for (let k = 1; k < JOINS; k++) {
    await new Promise((r) => setTimeout(r, REST_MS));
    const t = performance.now();
    const j = await addUntilUp([lab.hosts[N + k]!.name], 120_000);
    joins.push({ ms: Math.round(performance.now() - t), up: j.up, newPorts: 2 * (N + k) });
  }
  const atEnd = await usage(pid);
  const sortedJoins = joins.map((j) => j.ms).sort((a, b) => a - b);
  const timeline = watch
    ? {
        ...watch.result(j0Wall),
        ...(await joinTimeline(lab.dir, join(lab.dir, ctl.name), lab.hosts.slice(0, N + 1), j0Wall, rounds)),
      }
    : undefined;
  process.stdout.write(
    JSON.stringify(
      {
        hosts: N,
        store: ETCD ? `etcd x${ETCD}` : 'sqlite',
        build: opt['one-by-one'] ? 'one mesh add per host' : `one mesh add of ${N} hosts`,
        labUpSeconds: +labUpSeconds.toFixed(1),
        meshBuild: {
          ms: Math.round(buildMs),
          ...(build.addMs === undefined ? {} : { meshAddCommandsMs: Math.round(build.addMs) }),
          allTunnelsUp: build.up,
          tunnels: N * (N - 1),
          goalMs: 30_000,
        },
        join: {
          ms: sortedJoins[Math.floor((sortedJoins.length - 1) / 2)]!,
          each: joins,
          ...(joined.addMs === undefined ? {} : { meshAddCommandMs: Math.round(joined.addMs) }),
          allTunnelsUp: joins.every((j) => j.up),
          newPorts: 2 * N,
          goalMs: 2000,
        },
        controller: {
          cpuMsDuringBuild: afterBuild.cpuMs - before.cpuMs,
          cpuMsDuringJoins: atEnd.cpuMs - afterBuild.cpuMs,
          rssKiBBefore: before.rssKiB,
          rssKiBAtEnd: atEnd.rssKiB,
        },
        restBeforeJoinS: REST_MS / 1000,
        cpuAtRest2s: cpuDelta(r0, r1),
        cpuDuringJoin: cpuDelta(r1, j1),
        ...(timeline ? { joinTimeline: timeline } : {}),
        loadBefore,
        loadAfter: load(),
      },
      null,
      1,
    ) + '\n',
  );
} finally {
  // The agents', OVS's and the controller's logs, kept for a look at one run (before the lab goes).
  if (opt['keep-logs'])
    await cp(lab.dir, opt['keep-logs'], {
      recursive: true,
      filter: (src) => !/\.(sock|ctl|db|snoop|mgmt)$|\/(state|trust)$/.test(src),
    }).catch((err: unknown) => process.stderr.write(`keeping the logs: ${String(err)}\n`));
  await labDown({ name });
}
