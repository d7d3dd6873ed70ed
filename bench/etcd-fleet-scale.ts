// Fleet scale (issue 13): a lab of N+1 hosts (one user-space Open vSwitch each) and a controller
// in its own namespace (on etcd with --etcd M, else SQLite), one OVS network meshed with GRE.
// Timed as a user sees it, through the CLI inside the lab: the full mesh of N hosts built (one
// `mesh add h1 … hN` as an operator meshes a fleet, or with --one-by-one a `mesh add` per host, then
// until `mesh status` says every tunnel is up; goal <= 30 s at N=50), then the
// (N+1)th host joining (goal <= 2 s; one port added per existing member), and the controller's
// CPU time and resident memory while it holds N+1 hosts. Each is one `mesh add --wait` (it returns when
// the last agent's BFD sessions are up); --poll: `mesh add`, then `mesh status` every 200 ms as before.
// Prints JSON. Needs root; the lab is removed at the end (also on failure).
// With --timeline, the join's stages (wall clock, ms after the `mesh add`): when each tunnel port
// appeared and when its BFD session said up (each host's OVS Interface table, watched), each agent's
// apply ('mesh converged' in its log), and the bench's `mesh status` calls, so the slow stage shows.
//   node --import tsx bench/etcd-fleet-scale.ts [--hosts 50] [--etcd 0|1|3] [--one-by-one] [--timeline] [--poll]
import { readFile } from 'node:fs/promises';
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
  },
});
const N = Number(opt.hosts);
const ETCD = Number(opt.etcd);
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

/** Log lines' times (ms) at or after t0: pino JSON lines of the agent, `2026-…Z|…` lines of OVS. */
async function logTimes(file: string, t0: number, match: RegExp): Promise<number[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const out: number[] = [];
  for (const line of text.split('\n')) {
    if (!match.test(line)) continue;
    const t = line.startsWith('{')
      ? Number((JSON.parse(line) as { time?: number }).time)
      : Date.parse(line.split('|')[0]!);
    if (t >= t0) out.push(t);
  }
  return out;
}

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
  const made: number[] = [];
  const up: number[] = [];
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
    let initial = true;
    let buf = '';
    p.stdout!.on('data', (b: Buffer) => {
      const now = Date.now();
      buf += b.toString('utf8');
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const line of lines) {
        const t = JSON.parse(line) as { data: [string, string, string | null, ['map', [string, string][]]][] };
        for (const [, action, name, bfd] of t.data) {
          if (!name) continue;
          const key = `${i}/${name}`;
          if (action === 'insert' && !initial) made.push(now);
          const st = Object.fromEntries(bfd[1]);
          if (st.state === 'up' && st.forwarding === 'true' && !seen.has(key)) {
            seen.add(key);
            if (!initial) up.push(now);
          }
        }
        initial = false;
      }
    });
    return p;
  });
  return {
    stop: () => procs.forEach((p) => p.kill()),
    result: (t0: number) => ({ portsMade: stats(made.map((t) => t - t0)), bfdUp: stats(up.map((t) => t - t0)) }),
  };
}

/** The join's stages in ms after the `mesh add` (agents' logs, OVS's Interface tables, the bench's rounds). */
async function joinTimeline(
  labDir: string,
  hosts: { name: string }[],
  t0: number,
  rounds: { startMs: number; endMs: number; notUp: number }[],
) {
  const applied: number[] = [];
  for (const h of hosts)
    applied.push(...(await logTimes(join(labDir, h.name, 'agent.log'), t0, /mesh converged/)).map((t) => t - t0));
  return {
    agentsApplied: stats(applied),
    statusRounds: rounds.map((r) => ({ start: r.startMs - t0, end: r.endMs - t0, notUp: r.notUp })),
  };
}

const t0 = performance.now();
const lab = await labUp({ name, hosts: N + 1, controllers: 1, etcd: ETCD });
try {
  const labUpSeconds = (performance.now() - t0) / 1000;
  const ctl = lab.controllers[0]!;
  const pid = readLabState(`${lab.dir}/lab.json`)!.processes.find((p) => p.role === 'controller')!.pid;
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
  const j0 = performance.now();
  const j0Wall = Date.now();
  const join = await addUntilUp([lab.hosts[N]!.name], 120_000);
  const joinMs = performance.now() - j0;
  const atEnd = await usage(pid);
  watch?.stop();
  const timeline = watch
    ? { ...watch.result(j0Wall), ...(await joinTimeline(lab.dir, lab.hosts.slice(0, N + 1), j0Wall, rounds)) }
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
          ms: Math.round(joinMs),
          ...(join.addMs === undefined ? {} : { meshAddCommandMs: Math.round(join.addMs) }),
          allTunnelsUp: join.up,
          newPorts: 2 * N,
          goalMs: 2000,
        },
        controller: {
          cpuMsDuringBuild: afterBuild.cpuMs - before.cpuMs,
          cpuMsDuringJoin: atEnd.cpuMs - afterBuild.cpuMs,
          rssKiBBefore: before.rssKiB,
          rssKiBAtEnd: atEnd.rssKiB,
        },
        ...(timeline ? { joinTimeline: timeline } : {}),
        loadBefore,
        loadAfter: load(),
      },
      null,
      1,
    ) + '\n',
  );
} finally {
  await labDown({ name });
}
