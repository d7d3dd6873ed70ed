// The controller bench's CLI rows (bench/controller.ts): `fleetnet ls --json` of the controller's whole
// inventory and `fleetnet attach` through the controller, each a new CLI process as a user runs it,
// with another build's CLI (the baseline) interleaved when given.
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { controllerCliPath } from '../paths/controller-cli.js';
import { dockerConnectPath } from '../paths/user-cli.js';
import { dockerCli, dockerConnectTarget, ensureImage, startContainers } from './docker.js';
import { startDaemon, stopProcess, userProcessEnv, waitReady, WORKPLACE_ONLY_ENV, type BenchEnv } from './env.js';
import { measurePaths } from './measure.js';
import { load, r2, row, type Comparison, type ResultRow } from './results.js';
import { percentile } from './stats.js';
import { compare } from './summary.js';
import { ensureBridge } from './verify.js';

export interface ControllerCliBench {
  env: BenchEnv;
  /** This tree's bin/fleetnet.cjs, the controller's address, and another build's CLI timed beside it. */
  fleetnet: string;
  ctl: string;
  baseline?: { bin: string; label: string };
  /** Attaches per path. */
  cliN: number;
  /** Second octets of the /16s: fleet networks (this tree's, the baseline's), Docker's and its parking one. */
  net: { cli: number; baseline: number; docker: number; park: number };
  rows: ResultRow[];
  notes: string[];
  comparisons: Comparison[];
}

/** `fleetnet --controller CTL ARGS…` with the given build, its result whatever the exit code. */
export const cliAt = (env: BenchEnv, bin: string, ctl: string, ...args: string[]) =>
  env.runner.run(process.execPath, [bin, '--controller', ctl, ...args], { allowFail: true, timeoutMs: 120_000 });

/**
 * Wall time of one new process, spawn → exit, output discarded; as on a user's machine (userProcessEnv) unless
 * told.
 */
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

/** ls --json (and --version as the floor), new processes, interleaved round by round with the baseline CLI. */
export async function lsRows(x: ControllerCliBench): Promise<void> {
  const { env, rows, notes, comparisons, baseline } = x;
  const bins = [['this tree', x.fleetnet], ...(baseline ? [['baseline', baseline.bin]] : [])] as const;
  const ls = bins.map(() => [] as number[]);
  const ver = bins.map(() => [] as number[]);
  const bare: number[] = [];
  const bareWorkplace: number[] = [];
  const loadBefore = load();
  // Untimed first: the controller renders the fleet's JSON once after a change and serves that until the next one;
  // timed, that one render fell on whichever CLI went first (this tree's p95 was 2.5x the baseline's, p50 equal).
  const out = await cliAt(env, x.fleetnet, x.ctl, 'ls', '--json');
  for (let i = 0; i < 10; i++) {
    bare.push((await timeProcess(env, process.execPath, ['-e', ''])).ms);
    bareWorkplace.push((await timeProcess(env, process.execPath, ['-e', ''], process.env)).ms);
    for (const [k, [, bin]] of bins.entries()) {
      ver[k]!.push((await timeProcess(env, process.execPath, [bin, '--version'])).ms);
      const t = await timeProcess(env, process.execPath, [bin, '--controller', x.ctl, 'ls', '--json']);
      if (t.code !== 0) throw new Error(`${bin} ls --json: exit ${t.code}`);
      ls[k]!.push(t.ms);
    }
  }
  const count = (JSON.parse(out.stdout) as unknown[]).length;
  for (const [k, [who]] of bins.entries()) {
    const tag = k === 0 ? '' : ` — ${who} CLI (${baseline?.label})`;
    rows.push(
      row(
        `fleetnet ls --json, ${count} attachments (new CLI process)${tag}`,
        ls[k]!,
        `spawn → exit of \`fleetnet --controller ${x.ctl} ls --json\`, stdout to /dev/null: Node start, CLI load, ` +
          `the controller's pre-rendered JSON (${(out.stdout.length / 1e6).toFixed(1)} MB) streamed and written out`,
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
      'Node start and exit with nothing loaded, ' +
        'in the environment of every timed process here (without NODE_EXTRA_CA_CERTS)',
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
    `ls --json of ${count}: p50 ${p50} ms (target < 200 ms: ${p50 < 200 ? 'met' : 'NOT met'}), ` +
      `of which ${r2(percentile(ver[0]!, 50))} ms is starting Node and the CLI; ` +
      `load average ${loadBefore} before, ${load()} after`,
  );
  if (baseline) comparisons.push(compare('ls --json: this tree / baseline CLI', ls[0]!, ls[1]!));
}

/**
 * `fleetnet attach` through the controller (a new CLI process → controller → agent → Docker container)
 * against `docker network connect --ip`, interleaved (and the baseline CLI's when given), on an agent
 * started here and registered as host hb.
 */
export async function cliAttachRows(x: ControllerCliBench): Promise<void> {
  const { env, rows, notes, comparisons, baseline, net } = x;
  const must = async (...args: string[]) => {
    const r = await cliAt(env, x.fleetnet, x.ctl, ...args);
    if (r.code !== 0) throw new Error(`fleetnet ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
  };
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
      x.fleetnet,
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
        await env.runner.run(process.execPath, [x.fleetnet, '--socket', join(dir, 'agent.sock'), 'ls'], {
          allowFail: true,
        })
      ).code === 0,
  );
  await must('host', 'add', 'hb', '--addr', '127.0.0.1:7441');
  await must('net', 'create', 'bench', '--subnet', `10.${net.cli}.0.0/16`, '--bridge', 'brfcbench');
  await ensureBridge(env, 'brfcbench');
  if (baseline) {
    await must('net', 'create', 'benchbase', '--subnet', `10.${net.baseline}.0.0/16`, '--bridge', 'brfcbase');
    await ensureBridge(env, 'brfcbase');
  }
  const d0 = dockerCli(env);
  await ensureImage(env, d0);
  const cs = await startContainers(env, d0, `fcb${env.runId}`, x.cliN, 'none');
  const cs1 = baseline ? await startContainers(env, d0, `fcc${env.runId}`, x.cliN, 'none') : [];
  const dc = await dockerConnectTarget(env, { n: x.cliN, prefix: 'fcd', net: net.docker, park: net.park });
  const paths = [
    controllerCliPath(env, cs, {
      name: 'fleetnet attach through the controller (new CLI process → controller → agent → Docker container)',
      bin: x.fleetnet,
      controller: x.ctl,
      host: 'hb',
      bridge: 'brfcbench',
      net: net.cli,
    }),
    dockerConnectPath(env, dc.d2, dc.containers, { network: dc.network, bridge: dc.bridge, net: net.docker }),
    ...(baseline
      ? [
          controllerCliPath(env, cs1, {
            name: `fleetnet attach through the controller — baseline CLI (${baseline.label})`,
            bin: baseline.bin,
            controller: x.ctl,
            host: 'hb',
            bridge: 'brfcbase',
            net: net.baseline,
          }),
        ]
      : []),
  ];
  const loadBefore = load();
  const m = await measurePaths(env, paths, x.cliN, 2, env.log);
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
  if (baseline)
    // Issue 12: through the controller too, no slower than the CLI of before (≤ 1.1× in the same run).
    comparisons.push(compare('attach via controller: this tree / baseline CLI', m[0]!.attachMs, m[2]!.attachMs, 1.1));
  notes.push(
    'CLI attach through the controller vs docker network connect --ip, ' +
      'interleaved (attach i on every path, starting path rotating), each attach checked afterwards: ' +
      `${c.ratio}× on p50 (paired ${c.pairedRatio}×; target ≤ 1.2×: ${c.met ? 'met' : 'NOT met'}); ` +
      `load average ${loadBefore} before, ${load()} after`,
  );
  await stopProcess(agent.pid, 10_000);
}
