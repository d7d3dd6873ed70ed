// The CLI depends on the RPC contract, never on the controller's internals: it must work from any
// machine with a CLI credential, without the controller's files. Only the commands that ARE the
// controller (cli/commands/controller*.ts: run, init, migrate) load controller/ code.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { it } from 'node:test';

const ROOT = resolve(import.meta.dirname, '..', '..');

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? tsFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Every module a file names: static imports and exports, and dynamic import() calls. */
export function importsOf(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm)) out.push(m[1]!);
  return out;
}

it('finds static, type-only, re-exported and dynamic imports', () => {
  const text = [
    `import a from '../x.js';`,
    `import type { B } from "../y.js";`,
    `export { c } from '../z.js';`,
    `const d = await import('../w.js');`,
    `import './side.js';`,
  ].join('\n');
  assert.deepEqual(importsOf(text), ['../x.js', '../y.js', '../z.js', '../w.js', './side.js']);
});

it('nothing in cli/ but cli/commands/controller*.ts imports controller/', () => {
  const controllerDir = join(ROOT, 'controller') + '/';
  const allowed = /^cli\/commands\/controller[^/]*\.ts$/;
  const offenders: string[] = [];
  for (const file of tsFiles(join(ROOT, 'cli'))) {
    const rel = relative(ROOT, file);
    if (allowed.test(rel)) continue;
    for (const spec of importsOf(readFileSync(file, 'utf8'))) {
      const target = resolve(dirname(file), spec);
      if (spec.startsWith('.') && target.startsWith(controllerDir)) offenders.push(`${rel} imports ${spec}`);
    }
  }
  assert.deepEqual(offenders, [], 'the CLI talks to the controller over RPC: it does not load its code');
});
