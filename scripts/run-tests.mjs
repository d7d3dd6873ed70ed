// Finds the test files (unit, then privileged, then e2e) and runs them with node's test runner,
// one file at a time: the privileged and e2e tests share this machine's kernel.
// Usage: node scripts/run-tests.mjs [substring ...]   (only files whose path contains one of them)
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const filters = process.argv.slice(2);
const files = ['test/unit', 'test/privileged', 'test/e2e']
  .filter((d) => existsSync(d))
  .flatMap((d) => readdirSync(d).filter((f) => f.endsWith('.test.ts')).sort().map((f) => join(d, f)))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error('run-tests: no test files matched');
  process.exit(2);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
