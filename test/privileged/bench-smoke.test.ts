// The bench end to end with N=2: every path runs, the results file follows the schema, the report
// is generated, and nothing the bench made is left (before/after snapshots of what carries its prefix).
// Root, Docker and containernetworking-plugins needed; no timing is asserted.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ResultsSchema } from '../../bench/lib/results.js';

function snapshot(): string[] {
  const netns = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.startsWith('fnbench-'));
  const tmp = readdirSync(tmpdir()).filter((f) => f.startsWith('fnbench-') && !f.startsWith('fnbench-test-'));
  const containers = execFileSync('docker', ['ps', '-aq', '--filter', 'label=fleetnet.bench'], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .filter((l) => l.includes('/fnbench-') && !l.includes('/fnbench-test-'));
  const procs = readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .flatMap((p) => {
      try {
        const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
        return cmd.includes('/fnbench-') && !cmd.includes('fnbench-test-') ? [cmd.replace(/\0/g, ' ')] : [];
      } catch {
        return [];
      }
    });
  return [
    ...netns.map((x) => `netns ${x}`),
    ...tmp.map((x) => `tmp ${x}`),
    ...containers.map((x) => `container ${x}`),
    ...mounts.map((x) => `mount ${x}`),
    ...procs.map((x) => `proc ${x}`),
  ];
}

const canRun =
  process.getuid?.() === 0 &&
  existsSync('/usr/lib/cni/bridge') &&
  spawnSync('docker', ['version'], { stdio: 'ignore' }).status === 0;

test(
  'npm run bench with N=2 measures every path and leaves nothing behind',
  { skip: canRun ? false : 'needs root, a running dockerd and /usr/lib/cni/bridge', timeout: 300_000 },
  (t) => {
    const out = mkdtempSync(join(tmpdir(), 'fnbench-test-'));
    t.after(() => rmSync(out, { recursive: true, force: true }));
    assert.ok(existsSync('dist/fleetnet.cjs'), 'the bundle is built (npm run build)');
    const before = snapshot();
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'bench/run.ts',
        '--n',
        '2',
        '--warmup',
        '1',
        '--results-dir',
        join(out, 'results'),
        '--report',
        join(out, 'README.md'),
      ],
      { encoding: 'utf8', timeout: 280_000 },
    );
    assert.equal(r.status, 0, `bench failed:\n${r.stdout}\n${r.stderr}`);
    const latest = ResultsSchema.parse(JSON.parse(readFileSync(join(out, 'results', 'latest.json'), 'utf8')));
    for (const name of [
      'fleetnet agent gRPC Attach (Docker name)',
      'fleetnet agent gRPC Attach (PID)',
      'raw iproute2, two execs',
      'CNI bridge plugin + host-local',
      'fleetnet attach (new CLI process)',
      'docker network connect --ip',
    ]) {
      const row = latest.rows.find((x) => x.name === name);
      assert.ok(row && row.n === 2 && row.p50Ms > 0, `row ${name} has 2 samples`);
    }
    // attach vs raw and vs CNI, attach and detach CLI vs docker (issue 12 adds the detach target)
    assert.equal(latest.comparisons?.filter((c) => c.target !== undefined).length, 4);
    // New processes run without this workplace's NODE_EXTRA_CA_CERTS, and the report says so, with both floors.
    assert.ok(
      latest.notes.some((n) => n.includes('NODE_EXTRA_CA_CERTS')),
      'a note names the variable left out',
    );
    assert.ok(latest.rows.some((x) => x.name === 'floor: node -e "" (bare Node start)'));
    if (process.env.NODE_EXTRA_CA_CERTS)
      assert.ok(
        latest.rows.some((x) => x.name.startsWith('floor: node -e "" with this workplace\'s NODE_EXTRA_CA_CERTS')),
      );
    ResultsSchema.parse(JSON.parse(readFileSync(join(out, 'results', 'agent-profile.json'), 'utf8')));
    const md = readFileSync(join(out, 'README.md'), 'utf8');
    assert.match(md, /## Attach and detach/);
    assert.match(md, /## Where an agent attach spends its time/);
    assert.deepEqual(snapshot(), before);
  },
);

test('an unknown bench option is refused with exit 2 before anything is made', () => {
  const before = snapshot();
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--nn', '5'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /Unknown option '--nn'[\s\S]*usage: npm run bench/);
  assert.deepEqual(snapshot(), before);
});
