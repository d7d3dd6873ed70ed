// Every benchmark in one run, one after the other (never two at once: they share the machine's
// CPUs), then bench/README.md from their results. A benchmark that fails stops nothing else: its
// failure is printed and the run exits 1 at the end, with the figures of those that ran.
// Usage: node --import tsx bench/all.ts --help.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ExecRunner } from '../common/runner.js';
import { etcdHaResults, etcdLsResults, fleetScaleResults } from './lib/printed-results.js';
import { writeResults, type Results } from './lib/results.js';

const USAGE = `usage: node --import tsx bench/all.ts [--only NAME,...] [--quick]
                                      [--baseline-cli PATH --baseline-label TEXT]
  --only NAME,...       run only these benchmarks (in this order)
  --quick               small sizes, to check that each one runs; bench/results is left as it was
  --baseline-cli PATH   a build of another commit's CLI (bin/fleetnet.mjs), measured in the same run
  --baseline-label TEXT how the report names that build
Run under flock /tmp/fleetnet-bench.lock when anything else may measure at the same time.
`;
const parsed = (() => {
  try {
    return parseArgs({
      options: {
        only: { type: 'string' },
        quick: { type: 'boolean', default: false },
        'baseline-cli': { type: 'string' },
        'baseline-label': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    process.stderr.write(`bench/all: ${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
})();
const opt = parsed.values;
const quick = opt.quick;
const RESULTS = 'bench/results';
const baseline = opt['baseline-cli']
  ? [
      '--baseline-cli',
      opt['baseline-cli'],
      ...(opt['baseline-label'] ? ['--baseline-label', opt['baseline-label']] : []),
    ]
  : [];

/** name → the script and its arguments (full size, or --quick). */
const BENCHES: Record<string, () => string[]> = {
  attach: () => [
    'bench/run.ts',
    ...(quick ? ['--n', '5', '--warmup', '1', '--no-profile'] : ['--n', '30', '--busy', '30']),
    ...baseline,
  ],
  controller: () => [
    'bench/controller.ts',
    ...(quick ? ['--n', '2000', '--cli-n', '3', '--batch-n', '0', '--full-n', '200'] : ['--cli-n', '30']),
    ...baseline,
  ],
  mesh: () => ['bench/mesh.ts', ...(quick ? ['--reps', '1', '--max-hosts', '3'] : [])],
  'etcd-ha': () => ['bench/etcd-ha.ts', ...(quick ? ['--n', '300'] : [])],
  cni: () => ['bench/cni.ts', ...(quick ? ['--n', '3', '--parallel', '5', '--warmup', '1'] : [])],
  'etcd-ls': () => ['bench/etcd-ls.ts', ...(quick ? ['--n', '2000', '--runs', '2'] : [])],
  lifecycle: () => [
    'bench/lifecycle.ts',
    ...(quick
      ? ['--start-n', '3', '--reboot-n', '5', '--scale-n', '20', '--clients', '5', '--lat-n', '3', '--pass-n', '2']
      : []),
  ],
  // the joins' own latency where the machine is not the bottleneck (8 hosts), beside the 50-host figures
  'fleet-join': () => ['bench/etcd-fleet-scale.ts', '--hosts', quick ? '3' : '8', '--joins', '6'],
  // last: tearing down 51 simulated hosts leaves the machine loaded for a while after it
  'fleet-scale': () => ['bench/etcd-fleet-scale.ts', '--hosts', quick ? '3' : '50'],
};

/** Benchmarks that print one JSON object of figures: how it becomes a results file. */
const PRINTED: Record<string, [file: string, (j: Record<string, unknown>) => Results]> = {
  'etcd-ha': ['etcd-ha.json', etcdHaResults],
  'etcd-ls': ['etcd-ls.json', etcdLsResults],
  'fleet-scale': ['fleet-scale.json', fleetScaleResults],
  'fleet-join': ['fleet-join.json', fleetScaleResults],
};

async function main(): Promise<void> {
  if (opt.help) {
    process.stdout.write(`${USAGE}benchmarks, in the order they run: ${Object.keys(BENCHES).join(', ')}\n`);
    return;
  }
  const names = opt.only ? opt.only.split(',') : Object.keys(BENCHES);
  const unknown = names.filter((n) => !BENCHES[n]);
  if (unknown.length) {
    process.stderr.write(
      `bench/all: no benchmark named ${unknown.join(', ')}; there are ${Object.keys(BENCHES).join(', ')}\n`,
    );
    process.exit(2);
  }
  const runner = new ExecRunner();
  const failed: string[] = [];
  const kept = quick ? mkdtempSync(join(tmpdir(), 'fleetnet-bench-results-')) : undefined;
  if (kept) cpSync(RESULTS, kept, { recursive: true });
  try {
    await runAll(runner, names, failed);
  } finally {
    if (kept) {
      rmSync(RESULTS, { recursive: true, force: true });
      cpSync(kept, RESULTS, { recursive: true });
      rmSync(kept, { recursive: true, force: true });
    }
  }
  if (failed.length) {
    process.stderr.write(`bench/all: failed: ${failed.join(', ')}\n`);
    process.exitCode = 1;
  }
}

async function runAll(runner: ExecRunner, names: string[], failed: string[]): Promise<void> {
  for (const name of names) {
    const args = BENCHES[name]!();
    const t0 = Date.now();
    process.stdout.write(`\n=== bench ${name}: node --import tsx ${args.join(' ')}\n`);
    const printed = PRINTED[name];
    const p = runner.start(process.execPath, ['--import', 'tsx', ...args], { stdio: printed ? 'pipe' : 'inherit' });
    p.stdin?.end();
    p.stderr?.pipe(process.stderr);
    let out = '';
    p.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      process.stdout.write(b);
    });
    let code = await new Promise<number>((r) => p.once('exit', (c) => r(c ?? 1)));
    if (printed && code === 0) {
      try {
        writeResults(
          `${RESULTS}/${printed[0]}`,
          printed[1](JSON.parse(out.slice(out.indexOf('{'), out.lastIndexOf('}') + 1))),
        );
      } catch (err) {
        process.stderr.write(`bench/all: ${name} printed no figures it could read: ${String(err)}\n`);
        code = 1;
      }
    }
    process.stdout.write(`=== bench ${name}: exit ${code} after ${Math.round((Date.now() - t0) / 1000)} s\n`);
    if (code !== 0) failed.push(name);
  }
  if (!quick) {
    const p = runner.start(process.execPath, ['--import', 'tsx', 'bench/report.ts'], { stdio: 'inherit' });
    await new Promise((r) => p.once('exit', r));
  }
}

await main();
