// Finds the test files (unit, then privileged, then e2e) and runs them with node's test runner,
// one file at a time: the privileged and e2e tests share this machine's kernel.
// Usage: node scripts/run-tests.mjs [substring ...]   (only files whose path contains one of them)
// A run in which no test executed is a failure, not a pass; skipped tests are listed with their reason.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const filters = process.argv.slice(2);
const files = ['test/unit', 'test/privileged', 'test/e2e']
  .filter((d) => existsSync(d))
  .flatMap((d) =>
    readdirSync(d)
      .filter((f) => f.endsWith('.test.ts'))
      .sort()
      .map((f) => join(d, f)),
  )
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error('run-tests: no test files matched');
  process.exit(2);
}
const dir = mkdtempSync(join(tmpdir(), 'fleetnet-tests-'));
const tap = join(dir, 'results.tap');
const r = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=1',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tap}`,
    ...files,
  ],
  { stdio: 'inherit' },
);
const text = existsSync(tap) ? readFileSync(tap, 'utf8') : '';
rmSync(dir, { recursive: true, force: true });
const count = (k) => Number(new RegExp(`^# ${k} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
const skips = text
  .split('\n')
  .filter((l) => /^\s*ok \d+ .*# SKIP/.test(l))
  .map((l) => l.trim());
if (skips.length) console.error(`run-tests: ${skips.length} skipped:\n  ${skips.join('\n  ')}`);
if (count('tests') === 0 || count('pass') === 0) {
  console.error(`run-tests: no test executed (${files.length} file(s)): that is not a pass`);
  process.exit(1);
}
process.exit(r.status ?? 1);
