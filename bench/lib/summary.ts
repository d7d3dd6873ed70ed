// Turns raw samples into the results files (bench/lib/results.ts schema) and a terminal summary.
import type { PathSamples } from './measure.js';
import type { AgentProfile } from './profile.js';
import type { Comparison, ResultRow, Results } from './results.js';
import { percentile, summarize } from './stats.js';
import { userEnvNote } from './env.js';

export type PathKey = 'agent' | 'agentPid' | 'raw' | 'cni' | 'cli' | 'docker';
/** Paths of a run with --baseline-cli (the same CLI path, another build) and --busy (a second round). */
export type ExtraKey = 'cliBaseline' | 'cliBusy' | 'dockerBusy';

export interface Measured {
  samples: Record<PathKey, PathSamples> & Partial<Record<ExtraKey, PathSamples>>;
  /** What the baseline CLI is (e.g. "main at d0cbe2b"), and how many containers made the daemon busy. */
  baselineLabel?: string;
  busy?: number;
  floors: { name: string; ms: number[]; timed: string }[];
  profile?: AgentProfile;
}

export interface RunInfo extends Measured {
  n: number;
  warmup: number;
  agentLogLevel: string;
  machine: { nproc: number; kernel: string; cpu: string; node: string; load1: string };
}

const row = (name: string, ms: number[], timed?: string): ResultRow => ({
  name,
  ...summarize(ms),
  ...(timed ? { timed } : {}),
});

const r2 = (x: number) => Math.round(x * 100) / 100;

export function compare(what: string, a: number[], b: number[], target?: number): Comparison {
  const ratio = r2(percentile(a, 50) / percentile(b, 50));
  const pairedRatio = r2(
    percentile(
      a.map((x, i) => x / b[i]!),
      50,
    ),
  );
  return { what, ratio, pairedRatio, ...(target !== undefined ? { target, met: ratio <= target } : {}) };
}

export function buildResults(m: RunInfo): { latest: Results; profile?: Results } {
  const s = m.samples;
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const rows: ResultRow[] = [];
  for (const p of Object.values(s)) rows.push(row(p.path.name, p.attachMs, p.path.timed));
  for (const p of Object.values(s)) rows.push(row(`${p.path.name} — detach`, p.detachMs, p.path.detachTimed));
  for (const f of m.floors) rows.push(row(f.name, f.ms, f.timed));
  const comparisons = [
    compare('agent Attach (Docker name) / raw iproute2, two execs', s.agent.attachMs, s.raw.attachMs, 1.2),
    compare('agent Attach (Docker name) / CNI bridge + host-local', s.agent.attachMs, s.cni.attachMs, 0.5),
    compare(
      'fleetnet attach CLI process / docker network connect (fresh daemon)',
      s.cli.attachMs,
      s.docker.attachMs,
      1.0,
    ),
    compare('agent Attach (PID) / raw iproute2, two execs', s.agentPid.attachMs, s.raw.attachMs),
    compare('agent Attach (PID) / CNI bridge + host-local', s.agentPid.attachMs, s.cni.attachMs),
    compare('agent Detach / raw iproute2 link del', s.agent.detachMs, s.raw.detachMs),
    compare(
      'fleetnet detach CLI process / docker network disconnect (fresh daemon)',
      s.cli.detachMs,
      s.docker.detachMs,
      1.0,
    ),
    ...(s.cliBaseline
      ? [
          compare(
            `fleetnet attach CLI process / the same with the baseline CLI (${m.baselineLabel ?? 'baseline'})`,
            s.cli.attachMs,
            s.cliBaseline.attachMs,
            1.1,
          ),
          compare(
            `fleetnet detach CLI process / the same with the baseline CLI (${m.baselineLabel ?? 'baseline'})`,
            s.cli.detachMs,
            s.cliBaseline.detachMs,
          ),
        ]
      : []),
    ...(s.cliBusy && s.dockerBusy
      ? [
          compare(
            'fleetnet attach CLI process / docker network connect ' +
              `(busy daemon: ${m.busy ?? 0} more containers), second round`,
            s.cliBusy.attachMs,
            s.dockerBusy.attachMs,
            1.0,
          ),
          compare(
            `fleetnet detach CLI process / docker network disconnect (busy daemon), second round`,
            s.cliBusy.detachMs,
            s.dockerBusy.detachMs,
            1.0,
          ),
        ]
      : []),
  ];
  const missed = comparisons
    .filter((c) => c.met === false)
    .map((c) => `${c.what} = ${c.ratio}× (target ≤ ${c.target}×)`);
  const notes = [
    `Each path: ${m.warmup} untimed warm-up attach+detach, then ${m.n} timed attaches ` +
      '(each checked afterwards, untimed: the container interface is up with its address; ' +
      `after all of them each bridge has exactly ${m.n} more ports), ` +
      `then ${m.n} timed detaches (checked: interfaces and ports gone). ` +
      'The paths are interleaved: attach i runs on every path (starting path rotating) before attach i+1, ' +
      'so load from elsewhere hits all paths alike.',
    'All bridges, veths and both Docker networks live in the bench network namespace; ' +
      "containers of the machine's dockerd run with --network none and a run label. " +
      'The agent runs inside the bench netns (`ip netns exec`) with its own socket and state dir, at log level ' +
      m.agentLogLevel +
      ' (the default), gratuitous ARP on (spawned before the reply, sent in the background). ' +
      'The agent does its `ip` work in-process over route netlink (no exec per attach; ' +
      'agent/linux/ip-netlink.ts), with the same read-back before it replies; ' +
      '`agent run --ip-path exec` gives the two-exec path instead.',
    'docker network connect runs against a second dockerd started inside the bench netns ' +
      '(own data/exec root, socket, managed containerd). ' +
      'Its containers start on a parking user-defined network, ' +
      'because Docker refuses to connect a --network none container to any network; ' +
      'the timed connect adds eth1 with the given --ip: the same end state as the other paths ' +
      '(veth into the container, host end on the bridge, address, up).',
    'The agent and CLI paths use the same containers as raw iproute2 and CNI ' +
      '(other interface names and bridges); addresses are static /16s, except CNI, ' +
      'where host-local allocates from a temporary dataDir.',
    'Ratios: the targets are defined on p50 / p50; ' +
      'the median of paired ratios (attach i of one path over attach i of the other, run back to back) ' +
      'is shown beside it because it is less sensitive to load that changes during the run.',
    `1-minute load average ${m.machine.load1} the run (other work shares this machine; p95s are sensitive to it).`,
    userEnvNote(),
    "The fleetnet CLI is package.json's bin, bin/fleetnet.cjs, run as `node bin/fleetnet.cjs …`: " +
      "one CommonJS bundle (dist/fleetnet.cjs) run with Node's compile cache (module.enableCompileCache()); " +
      'the floor row with NODE_DISABLE_COMPILE_CACHE=1 shows the same process compiling from source.',
    ...(s.cliBusy
      ? [
          'Second round (rows marked "second round"): after the first, ' +
            `${m.busy ?? 0} more idle containers were started on the second dockerd ` +
            '(a daemon that already runs containers, as on a working host), ' +
            'and the fleetnet CLI and docker network connect were measured again, interleaved, ' +
            'on the same containers.',
        ]
      : []),
    missed.length
      ? `Targets missed: ${missed.join('; ')}. See agent-profile below for where the agent's time goes.`
      : 'All targets met.',
  ];
  const latest: Results = {
    title: 'Attach and detach: fleetnet vs raw iproute2, CNI bridge, docker network connect',
    path: 'bench/run.ts',
    date,
    n: m.n,
    machine: m.machine,
    rows,
    comparisons,
    notes,
  };
  return { latest, ...(m.profile ? { profile: profileResults(m, date) } : {}) };
}

function profileResults(m: RunInfo, date: string): Results {
  const rows: ResultRow[] = [];
  const notes: string[] = [
    "The agent's own Attacher (agent/attach/attacher.ts, unchanged) driven in process inside the bench netns " +
      'by bench/profile-agent.ts, with a timing Runner and timed container lookup and record store; ' +
      'each attach is detached right away (so the bridge holds one port, not up to N).',
    '"other" = total − the timed phases: ' +
      'sysfs reads of the bridge, order parsing, JSON parsing of the read-back, promise scheduling. ' +
      'Rows starting with "~" are a share of other rows, not added again.',
  ];
  for (const [kind, k] of Object.entries(m.profile ?? {})) {
    const label = kind === 'docker' ? 'Docker name' : kind.toUpperCase();
    rows.push(row(`in-process Attacher.attach, ${label} target: total`, k.totals));
    const rank = (n: string) =>
      ['container lookup', 'netlink', 'exec ', '~', 'record', 'arping'].findIndex((x) => n.startsWith(x)) >>> 0;
    const names = [...new Set(k.phases.flatMap((p) => Object.keys(p)))].sort((a, b) => rank(a) - rank(b));
    for (const n of names)
      rows.push(
        row(
          `↳ ${n}`,
          k.phases.map((p) => p[n] ?? 0),
        ),
      );
    rows.push(
      row(
        '↳ other (JS, sysfs, parsing)',
        k.phases.map(
          (p, i) => k.totals[i]! - Object.entries(p).reduce((a, [n, v]) => (n.startsWith('~') ? a : a + v), 0),
        ),
      ),
    );
    rows.push(row(`gRPC Attach to the bench agent, ${label} target, right after each in-process one`, k.grpc));
    notes.push(...reading(label, k));
    if (k.totals.length && k.grpc.length) {
      const [g, t] = [percentile(k.grpc, 50), percentile(k.totals, 50)];
      notes.push(
        `${label} target: gRPC Attach p50 ${g.toFixed(2)} ms vs in-process p50 ${t.toFixed(2)} ms, ` +
          `run back to back (difference ${(g - t).toFixed(2)} ms). ` +
          'What the agent process adds around the Attacher is gRPC over the unix socket ' +
          '(the Health round trip floor in latest.json bounds it), proto conversion and one log line; ' +
          'a difference much beyond that floor is load noise, not agent work.',
      );
    }
  }
  return {
    title: 'Where an agent attach spends its time',
    path: 'bench/profile-agent.ts',
    date,
    n: m.n,
    machine: m.machine,
    rows,
    notes,
  };
}

/** Plain-words reading of one target kind's phases (p50s), so the report says what costs what. */
function reading(label: string, k: { totals: number[]; phases: Record<string, number>[] }): string[] {
  const p50 = (match: (n: string) => boolean) =>
    percentile(
      k.phases.map((p) =>
        Object.entries(p)
          .filter(([n]) => match(n))
          .reduce((a, [, v]) => a + v, 0),
      ),
      50,
    );
  const total = percentile(k.totals, 50);
  const execs = p50((n) => n.startsWith('exec '));
  const netlink = p50((n) => n.startsWith('netlink'));
  const spawn = p50((n) => n.startsWith('~'));
  const arp = p50((n) => n.startsWith('arping'));
  const lookup = p50((n) => n.startsWith('container lookup'));
  const pct = (x: number) => `${Math.round((100 * x) / total)} %`;
  if (netlink > 0) {
    return [
      `${label} target, in-process p50 ${total.toFixed(2)} ms: the two netlink batches (host namespace; ` +
        `container namespace, entered by setns for one socket) ${netlink.toFixed(2)} ms (${pct(netlink)}), ` +
        `mostly the kernel making the veth pair and moving its peer; execs ${execs.toFixed(2)} ms; ` +
        `the gratuitous-ARP spawn, made before the reply, ${arp.toFixed(2)} ms (${pct(arp)}); ` +
        `the container lookup ${lookup.toFixed(2)} ms (${pct(lookup)}).`,
    ];
  }
  return [
    `${label} target, in-process p50 ${total.toFixed(2)} ms: the two awaited execs (\`ip -json -batch\`, ` +
      `\`nsenter ip -json -batch\`, the same two a script runs) ${execs.toFixed(2)} ms (${pct(execs)}), ` +
      `of which spawn() blocks the agent's event loop ${spawn.toFixed(2)} ms ` +
      "(libuv forks the Node process and waits until the child has exec'd); " +
      `the gratuitous-ARP spawn, made before the reply, ${arp.toFixed(2)} ms (${pct(arp)}); ` +
      `the container lookup ${lookup.toFixed(2)} ms (${pct(lookup)}).`,
  ];
}

export function printSummary(latest: Results, profile?: Results): void {
  const w = Math.max(...latest.rows.map((r) => r.name.length), ...(profile?.rows ?? []).map((r) => r.name.length));
  const line = (r: ResultRow) =>
    `${r.name.padEnd(w)}  p50 ${r.p50Ms.toFixed(2).padStart(8)} ms  p95 ${r.p95Ms.toFixed(2).padStart(8)} ms\n`;
  process.stdout.write(`\n${latest.title} (N=${latest.n})\n`);
  for (const r of latest.rows) process.stdout.write(line(r));
  process.stdout.write('\n');
  for (const c of latest.comparisons ?? []) {
    const t = c.target !== undefined ? `  target ≤ ${c.target}×: ${c.met ? 'met' : 'MISSED'}` : '';
    process.stdout.write(`${c.what}: ${c.ratio.toFixed(2)}× (paired ${c.pairedRatio?.toFixed(2) ?? '–'}×)${t}\n`);
  }
  if (profile) {
    process.stdout.write(`\n${profile.title}\n`);
    for (const r of profile.rows) process.stdout.write(line(r));
  }
  process.stdout.write('\n');
}
