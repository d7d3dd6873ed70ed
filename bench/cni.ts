// CNI benchmark (issue 14): ADD of the `fleetnet` plugin with its address and MAC from the fleet
// controller, against the reference `bridge` plugin with `host-local` (Debian's /usr/lib/cni), one
// plugin process per call as a runtime runs them, interleaved; then 50 ADDs at once of each. The
// fleet is a test fleet (test/helpers/controller-fleet.ts): one host namespace with an agent started
// with --cni-controller, the controller in its own namespace. Rows that split fleetnet's ADD (the
// plugin process alone, the agent's CNI socket from a warm client) say where its time goes.
// Writes bench/results/cni.json.
//   node --import tsx bench/cni.ts [--n 30] [--parallel 50] [--warmup 3] [--results FILE]
import { mkdirSync } from 'node:fs';
import { loadavg, release, availableParallelism } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { ExecRunner } from '../common/runner.js';
import { callAgentCni, cniSocketOf } from '../cni/transport.js';
import { CniDriver } from '../test/helpers/cni.js';
import { startTestFleet, type TestFleet } from '../test/helpers/controller-fleet.js';
import { userEnvNote, userProcessEnv } from './lib/env.js';
import { writeResults, type Comparison, type ResultRow } from './lib/results.js';
import { summarize } from './lib/stats.js';

const { values: opt } = parseArgs({
  options: {
    n: { type: 'string', default: '30' },
    parallel: { type: 'string', default: '50' },
    warmup: { type: 'string', default: '3' },
    results: { type: 'string', default: 'bench/results/cni.json' },
  },
});
const N = Number(opt.n);
const PAR = Number(opt.parallel);
const WARMUP = Number(opt.warmup);
const RESULTS = opt.results;
const sh = new ExecRunner();
const r2 = (x: number) => Math.round(x * 100) / 100;

interface Plugin {
  name: string;
  exe: string;
  conf: object;
}

let fleet: TestFleet;
let hostNs = '';
let seq = 0;
const namespaces: string[] = [];

async function newNetns(): Promise<string> {
  const n = `${fleet.prefix}-b${seq++}`;
  await sh.run('ip', ['netns', 'add', n]);
  namespaces.push(n);
  return `/run/netns/${n}`;
}

/** One plugin process in the host's namespace, spawn → exit (nsenter --net: the same prefix for both plugins). */
async function callPlugin(p: Plugin, binDir: string, command: string, id: string, netns: string): Promise<number> {
  const env = {
    ...userProcessEnv(),
    CNI_COMMAND: command,
    CNI_CONTAINERID: id,
    CNI_NETNS: netns,
    CNI_IFNAME: 'eth0',
    CNI_PATH: `${binDir}:/usr/lib/cni`,
  };
  const t0 = performance.now();
  const r = await sh.run('nsenter', [`--net=/run/netns/${hostNs}`, p.exe], {
    input: JSON.stringify(p.conf),
    env,
    allowFail: true,
    timeoutMs: 120_000,
  });
  const ms = performance.now() - t0;
  if (r.code !== 0) throw new Error(`${p.name} ${command} ${id}: exit ${r.code}: ${r.stdout}${r.stderr}`);
  return ms;
}

async function main(): Promise<void> {
  fleet = await startTestFleet({ hosts: 1, tag: 'bc', agentArgs: (ctl) => ['--cni-controller', ctl] });
  try {
    await run();
  } finally {
    for (const n of namespaces) await sh.run('ip', ['netns', 'del', n], { allowFail: true });
    await fleet.down();
  }
}

async function run(): Promise<void> {
  const host = fleet.hosts[0]!;
  hostNs = host.ns;
  await fleet.startController();
  for (const args of [
    ['host', 'add', 'h1', '--addr', host.agentAddr],
    ['net', 'create', 'bench', '--subnet', '10.230.0.0/16', '--bridge', 'br-fbench'],
  ]) {
    const r = await fleet.cli(...args);
    if (r.code !== 0) throw new Error(`fleetnet ${args.join(' ')}: ${r.stderr}`);
  }
  const cni = await CniDriver.install(join(fleet.dir, 'cni'), host.socket);
  const ipamDir = join(fleet.dir, 'host-local');
  mkdirSync(ipamDir, { recursive: true });
  const fleetnet: Plugin = {
    name: 'fleetnet',
    exe: join(cni.binDir, 'fleetnet'),
    conf: { cniVersion: '1.0.0', name: 'bench', type: 'fleetnet', network: 'bench', agentSocket: host.socket },
  };
  const reference: Plugin = {
    name: 'bridge + host-local',
    exe: '/usr/lib/cni/bridge',
    conf: {
      cniVersion: '1.0.0',
      name: 'ref',
      type: 'bridge',
      bridge: 'br-rbench',
      isGateway: false,
      ipMasq: false,
      ipam: { type: 'host-local', subnet: '10.231.0.0/16', dataDir: ipamDir },
    },
  };
  const plugins = [fleetnet, reference];
  const samples = new Map(plugins.map((p) => [p.name, [] as number[]]));
  const paired: number[] = [];

  // Sequential ADDs, interleaved (the first WARMUP rounds untimed); every DEL outside the clock.
  for (let i = 0; i < N + WARMUP; i++) {
    const ms: number[] = [];
    for (const p of plugins) {
      const netns = await newNetns();
      ms.push(await callPlugin(p, cni.binDir, 'ADD', `s${i}`, netns));
      await callPlugin(p, cni.binDir, 'DEL', `s${i}`, netns);
    }
    if (i < WARMUP) continue;
    for (const [j, p] of plugins.entries()) samples.get(p.name)!.push(ms[j]!);
    paired.push(ms[0]! / ms[1]!);
  }

  // Where fleetnet's ADD goes: the plugin process alone (VERSION: start, read stdin, answer, exit),
  // node's own floor, and the agent's CNI socket from a warm client (the agent → controller → agent path).
  const version: number[] = [];
  const floor: number[] = [];
  const socket: number[] = [];
  for (let i = 0; i < N; i++) {
    const t0 = performance.now();
    await sh.run(fleetnet.exe, [], {
      input: '{"cniVersion":"1.0.0"}',
      env: { ...userProcessEnv(), CNI_COMMAND: 'VERSION' },
    });
    version.push(performance.now() - t0);
    const t1 = performance.now();
    await sh.run(process.execPath, ['-e', ''], { env: userProcessEnv() });
    floor.push(performance.now() - t1);
    const netns = await newNetns();
    const req = {
      plugin: 'fleetnet' as const,
      containerId: `w${i}`,
      netns,
      ifname: 'eth0',
      args: '',
      path: '',
      config: JSON.stringify(fleetnet.conf),
    };
    const t2 = performance.now();
    const add = await callAgentCni(cniSocketOf(host.socket), { ...req, command: 'ADD' }, 120_000);
    socket.push(performance.now() - t2);
    if (add.exitCode) throw new Error(`agent CNI socket ADD: ${add.stdout}`);
    await callAgentCni(cniSocketOf(host.socket), { ...req, command: 'DEL' }, 120_000);
  }

  // PAR ADDs at once of each plugin (one after the other), then their DELs.
  const wall = new Map<string, number>();
  for (const p of plugins) {
    const nss = await Promise.all(Array.from({ length: PAR }, () => newNetns()));
    const t0 = performance.now();
    await Promise.all(nss.map((ns, i) => callPlugin(p, cni.binDir, 'ADD', `p${i}`, ns)));
    wall.set(p.name, performance.now() - t0);
    await Promise.all(nss.map((ns, i) => callPlugin(p, cni.binDir, 'DEL', `p${i}`, ns)));
  }

  const [f, ref] = [summarize(samples.get(fleetnet.name)!), summarize(samples.get(reference.name)!)];
  const sortedPaired = [...paired].sort((a, b) => a - b);
  const rows: ResultRow[] = [
    {
      name: 'CNI ADD: fleetnet (address and MAC from the controller)',
      ...f,
      timed:
        'one `fleetnet` plugin process (nsenter --net into the host, spawn to exit): ' +
        "the agent's CNI socket, FleetAttach to the controller, its order back to the agent, " +
        'the veth made in the container namespace, the result printed',
    },
    {
      name: 'CNI ADD: reference bridge + host-local',
      ...ref,
      timed:
        'one /usr/lib/cni/bridge process (nsenter --net into the host, spawn to exit), ' +
        'which runs host-local (dataDir in a temp folder) and makes the veth',
    },
    {
      name: 'fleetnet plugin process alone (VERSION)',
      ...summarize(version),
      timed: 'the installed plugin process (the native one where built) answering VERSION, no agent call',
    },
    {
      name: 'node -e "" (the floor of any Node process)',
      ...summarize(floor),
      timed: 'a Node process that runs nothing',
    },
    {
      name: "fleetnet ADD through the agent's CNI socket (no plugin process)",
      ...summarize(socket),
      timed:
        "one HTTP request to the agent's CNI socket from this warm process: " +
        'agent -> controller FleetAttach -> order to the agent -> veth made -> reply',
    },
    {
      name: `${PAR} parallel CNI ADDs: fleetnet (controller)`,
      p50Ms: r2(wall.get(fleetnet.name)!),
      p95Ms: r2(wall.get(fleetnet.name)!),
      n: 1,
      timed: `wall time from starting ${PAR} plugin processes at once to the last exit`,
    },
    {
      name: `${PAR} parallel CNI ADDs: reference bridge + host-local`,
      p50Ms: r2(wall.get(reference.name)!),
      p95Ms: r2(wall.get(reference.name)!),
      n: 1,
      timed: `wall time from starting ${PAR} /usr/lib/cni/bridge processes at once to the last exit`,
    },
  ];
  const comparisons: Comparison[] = [
    {
      what: 'CNI ADD p50: fleetnet (controller) / bridge + host-local',
      ratio: r2(f.p50Ms / ref.p50Ms),
      pairedRatio: r2(sortedPaired[Math.floor(sortedPaired.length / 2)] ?? Number.NaN),
      target: 2,
      met: f.p50Ms / ref.p50Ms <= 2,
    },
    {
      what: `${PAR} parallel ADDs wall: fleetnet (controller) / bridge + host-local`,
      ratio: r2(wall.get(fleetnet.name)! / wall.get(reference.name)!),
    },
  ];
  writeResults(RESULTS, {
    title: 'CNI plugin: ADD with addresses from the fleet controller vs bridge + host-local',
    path: 'bench/cni.ts',
    date: new Date().toISOString(),
    n: N,
    machine: { nproc: availableParallelism(), kernel: release(), node: process.version },
    rows,
    comparisons,
    notes: [
      `Load average at the end: ${loadavg().map(r2).join(' / ')}.`,
      userEnvNote(),
      'The controller runs with its default SQLite store (synchronous normal) in its own namespace; ' +
        'the agent in the host namespace with --cni-controller, no mTLS (a test fleet).',
    ],
  });
  for (const r of rows) process.stdout.write(`${r.name}: p50 ${r.p50Ms} ms, p95 ${r.p95Ms} ms (n ${r.n})\n`);
  for (const c of comparisons)
    process.stdout.write(`${c.what}: ${c.ratio}${c.pairedRatio !== undefined ? ` (paired ${c.pairedRatio})` : ''}\n`);
}

await main();
