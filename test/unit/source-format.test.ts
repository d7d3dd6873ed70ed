// Lines a reader can see (issue 12): the product code, the tests and the benchmarks are as prettier prints them
// (.prettierrc.json, 120 columns), and no line of them or of the shell scripts, comments and strings included, is wider
// than 120 columns.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

const ROOT = join(import.meta.dirname, '..', '..');
const PRODUCT = ['agent', 'cli', 'cni', 'common', 'controller', 'lab', 'scripts', 'bin'];
/** What both checks read: the product, its tests and the benchmarks (bench/results/ is data the bench writes). */
const CHECKED = [...PRODUCT, 'test', 'bench'];

/** What the column scan reads under dir: the code prettier formats, and shell scripts (which prettier does not). */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return sources(p);
    return /\.(ts|mjs|cjs|sh)$/.test(f) ? [p] : [];
  });
}

test('product code, tests, benchmarks and scripts: at most 120 columns per line', () => {
  const wide = CHECKED.flatMap((d) => sources(join(ROOT, d))).flatMap((f) =>
    readFileSync(f, 'utf8')
      .split('\n')
      .flatMap((line, i) => (line.length > 120 ? [`${f.slice(ROOT.length + 1)}:${i + 1} (${line.length})`] : [])),
  );
  assert.deepEqual(wide, [], 'wrap these lines');
});

test('product code, tests and benchmarks: formatted by prettier (npm run format)', async () => {
  const prettier = join(ROOT, 'node_modules', '.bin', 'prettier');
  const r = await promisify(execFile)(prettier, ['--check', ...CHECKED], { cwd: ROOT }).catch(
    (err: { stdout?: string; stderr?: string }) => err,
  );
  assert.ok(!('code' in r) || r.code === undefined, `not formatted (run npm run format):\n${r.stdout}${r.stderr}`);
});
