// Fleet scale (issue 13): a lab of N+1 hosts (one user-space Open vSwitch each) and a controller
// in its own namespace (on etcd with --etcd M, else SQLite), one OVS network meshed with GRE.
// Timed as a user sees it, through the CLI inside the lab: the full mesh of N hosts built (one
// `mesh add h1 … hN` as an operator meshes a fleet, or with --one-by-one a `mesh add` per host, then
// until `mesh status` says every tunnel is up; goal <= 30 s at N=50), then the
// (N+1)th host joining (goal <= 2 s; one port added per existing member), and the controller's
// CPU time and resident memory while it holds N+1 hosts. Prints JSON. Needs root; the lab is
// removed at the end (also on failure).
//   node --import tsx bench/etcd-fleet-scale.ts [--hosts 50] [--etcd 0|1|3] [--one-by-one]
import { readFile } from 'node:fs/promises';
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
  const allUp = async (deadlineMs: number) => {
    while (performance.now() < deadlineMs) {
      if ((await cli(['mesh', 'status', '--net', 'scale', '-o', 'json'])).code === 0) return true;
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
  const before = await usage(pid);
  const b0 = performance.now();
  const members = lab.hosts.slice(0, N).map((h) => h.name);
  if (opt['one-by-one']) for (const h of members) await must(['mesh', 'add', h, '--net', 'scale']);
  else await must(['mesh', 'add', ...members, '--net', 'scale']);
  const addsMs = performance.now() - b0;
  const built = await allUp(b0 + 300_000);
  const buildMs = performance.now() - b0;
  const afterBuild = await usage(pid);
  const j0 = performance.now();
  await must(['mesh', 'add', lab.hosts[N]!.name, '--net', 'scale']);
  const joinAddMs = performance.now() - j0;
  const joined = await allUp(j0 + 120_000);
  const joinMs = performance.now() - j0;
  const atEnd = await usage(pid);
  process.stdout.write(
    JSON.stringify(
      {
        hosts: N,
        store: ETCD ? `etcd x${ETCD}` : 'sqlite',
        build: opt['one-by-one'] ? 'one mesh add per host' : `one mesh add of ${N} hosts`,
        labUpSeconds: +labUpSeconds.toFixed(1),
        meshBuild: {
          ms: Math.round(buildMs),
          meshAddCommandsMs: Math.round(addsMs),
          allTunnelsUp: built,
          tunnels: N * (N - 1),
          goalMs: 30_000,
        },
        join: {
          ms: Math.round(joinMs),
          meshAddCommandMs: Math.round(joinAddMs),
          allTunnelsUp: joined,
          newPorts: 2 * N,
          goalMs: 2000,
        },
        controller: {
          cpuMsDuringBuild: afterBuild.cpuMs - before.cpuMs,
          cpuMsDuringJoin: atEnd.cpuMs - afterBuild.cpuMs,
          rssKiBBefore: before.rssKiB,
          rssKiBAtEnd: atEnd.rssKiB,
        },
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
