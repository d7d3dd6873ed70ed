// bench/cni.ts end to end at a tiny size: it runs, its results file follows the schema with every
// row, and nothing it made is left (its test fleet's namespaces). No timing is asserted.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ResultsSchema } from '../../bench/lib/results.js';

const fleetNetns = () =>
  execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.startsWith('fcbc'))
    .sort();

test('bench/cni.ts at n=2: every row, both comparisons, nothing left', { timeout: 300_000 }, (t) => {
  const out = mkdtempSync(join(tmpdir(), 'fleetnet-cni-bench-'));
  t.after(() => rmSync(out, { recursive: true, force: true }));
  const before = fleetNetns();
  const file = join(out, 'cni.json');
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'bench/cni.ts', '--n', '2', '--parallel', '3', '--warmup', '1', '--results', file],
    {
      encoding: 'utf8',
      timeout: 280_000,
    },
  );
  assert.equal(r.status, 0, `bench failed:\n${r.stdout}\n${r.stderr}`);
  const res = ResultsSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  assert.equal(res.rows.length, 7);
  for (const row of res.rows) assert.ok(row.p50Ms > 0, `${row.name}: ${row.p50Ms}`);
  assert.deepEqual(
    res.comparisons?.map((c) => c.what.split(':')[0]),
    ['CNI ADD p50', '3 parallel ADDs wall'],
  );
  assert.deepEqual(fleetNetns(), before);
});
