// The bench's pure parts: percentiles, the results schema, and the report generated from results files.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { benchAddr } from '../../bench/lib/measure.js';
import { readAllResults, writeResults, type Results } from '../../bench/lib/results.js';
import { mapLimit, percentile, summarize } from '../../bench/lib/stats.js';
import { renderReport } from '../../bench/report.js';

test('percentile is nearest-rank on unsorted samples', () => {
  const s = [9, 1, 8, 2, 7, 3, 6, 4, 5, 10];
  assert.equal(percentile(s, 50), 5);
  assert.equal(percentile(s, 95), 10);
  assert.equal(percentile([4], 95), 4);
  assert.ok(Number.isNaN(percentile([], 50)));
  assert.deepEqual(summarize([1, 2, 3]), { n: 3, p50Ms: 2, p95Ms: 3, meanMs: 2, minMs: 1, maxMs: 3 });
});

test('mapLimit keeps order and bounds concurrency', async () => {
  let inFlight = 0;
  let most = 0;
  const out = await mapLimit([5, 1, 4, 2, 3], 2, async (x) => {
    most = Math.max(most, ++inFlight);
    await new Promise((r) => setTimeout(r, x));
    inFlight--;
    return x * 10;
  });
  assert.deepEqual(out, [50, 10, 40, 20, 30]);
  assert.equal(most, 2);
});

test('bench addresses stay inside their /16 and skip the gateway range', () => {
  assert.equal(benchAddr(201, 0), '10.201.0.10');
  assert.equal(benchAddr(201, 246), '10.201.1.0');
  assert.equal(benchAddr(201, 999), '10.201.3.241');
});

test('the report shows every results file, latest.json first, with comparisons and notes', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fnbench-report-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const latest: Results = {
    title: 'Attach paths',
    path: 'bench/run.ts',
    date: '2026-01-01T00:00:00Z',
    n: 50,
    machine: { nproc: 2, kernel: '6.1.0' },
    rows: [{ name: 'agent', p50Ms: 5.25, p95Ms: 7.5, n: 50, timed: 'request → reply' }],
    comparisons: [{ what: 'agent / raw', ratio: 1.5, pairedRatio: 1.4, target: 1.2, met: false }],
    notes: ['a note'],
  };
  writeResults(join(dir, 'latest.json'), latest);
  writeFileSync(
    join(dir, 'controller.json'),
    JSON.stringify({
      title: 'Controller',
      path: 'bench/controller.ts',
      rows: [{ name: 'allocate', p50Ms: 1, p95Ms: 2 }],
      notes: [],
    }),
  );
  assert.deepEqual(
    readAllResults(dir).map((r) => r.results.title),
    ['Attach paths', 'Controller'],
  );
  const md = renderReport(dir);
  assert.ok(md.indexOf('## Attach paths') < md.indexOf('## Controller'));
  assert.match(md, /\| agent \| 5\.25 \| 7\.50 \|/);
  assert.match(md, /\| agent \/ raw \| 1\.50× \| 1\.40× \| ≤ 1\.2× \| \*\*no\*\* \|/);
  assert.match(md, /2 CPUs, kernel 6\.1\.0/);
  assert.match(md, /- a note/);
  assert.match(md, /\*\*agent\*\*: request → reply/);
});

test('a results file that breaks the schema is refused, naming the file', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fnbench-report-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'bad.json'), JSON.stringify({ title: 'x', rows: [{ name: 'a' }] }));
  assert.throws(() => readAllResults(dir), /bad\.json does not follow the results schema/);
});
