// The CLI's code-cache loader (cli/boot/code-cache.ts): a valid cache is used, and every other
// cache (missing, unreadable, made for another bundle or another Node, refused by V8) falls back
// to compiling the bundle from source: it never crashes and never runs code the bundle no longer holds.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cacheFileBytes, cacheHeader, runBundle, splitCacheFile } from '../../cli/boot/code-cache.js';

const dir = mkdtempSync(join(tmpdir(), 'fleetnet-code-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A small CommonJS bundle whose result tells which source ran; `n` keeps the length equal. */
function bundle(name: string, n: number): string {
  const path = join(dir, name);
  writeFileSync(join(dir, 'helper.cjs'), 'module.exports = (x) => x * 10;\n');
  writeFileSync(path, [
    "'use strict';",
    "const helper = require('./helper.cjs');",
    `function answer() { return helper(${n}); }`,
    'module.exports = { answer: answer(), file: __filename, dir: __dirname, strict: (function () { return this === undefined; })() };',
    '',
  ].join('\n'));
  return path;
}

const run = (bundlePath: string, mode?: 'use' | 'off' | 'write') => runBundle({ bundlePath, cachePath: `${bundlePath}.cache`, mode });
const answer = (r: { exports: unknown }) => (r.exports as { answer: number }).answer;

describe('code cache loader', () => {
  it('runs a bundle without a cache like node would (require, __filename, __dirname, strict mode)', () => {
    const b = bundle('plain.cjs', 1);
    const r = run(b);
    assert.equal(r.state, 'missing');
    assert.deepEqual(r.exports, { answer: 10, file: b, dir, strict: true });
  });

  it('writes a cache, then uses it', () => {
    const b = bundle('cached.cjs', 2);
    const first = run(b, 'write');
    assert.equal(first.state, 'writing');
    first.saveCache();
    const parts = splitCacheFile(readFileSync(`${b}.cache`))!;
    assert.equal(parts.header, cacheHeader(readFileSync(b).length));
    assert.deepEqual(parts.bundle, readFileSync(b), 'the cache holds the exact bundle it was made from');
    const second = run(b);
    assert.equal(second.state, 'used');
    assert.equal(answer(second), 20);
  });

  it('ignores a cache made for an earlier bundle of the same length and runs the new code', () => {
    const b = bundle('stale.cjs', 3);
    run(b, 'write').saveCache();
    const before = readFileSync(b, 'utf8');
    bundle('stale.cjs', 4); // same length: V8 alone would take the old cache
    assert.equal(readFileSync(b, 'utf8').length, before.length);
    const r = run(b);
    assert.equal(r.state, 'stale');
    assert.equal(answer(r), 40);
  });

  it('ignores a cache whose header names another Node version', () => {
    const b = bundle('other-node.cjs', 5);
    run(b, 'write').saveCache();
    const parts = splitCacheFile(readFileSync(`${b}.cache`))!;
    writeFileSync(`${b}.cache`, cacheFileBytes(parts.header.replace(/node=\S+/, 'node=v18.0.0'), parts.bundle, parts.data));
    const r = run(b);
    assert.equal(r.state, 'stale');
    assert.equal(answer(r), 50);
  });

  it('compiles from source when V8 refuses data under a matching header', () => {
    const b = bundle('rejected.cjs', 6);
    writeFileSync(`${b}.cache`, cacheFileBytes(cacheHeader(readFileSync(b).length), readFileSync(b), Buffer.from('not V8 code cache data at all')));
    const r = run(b);
    assert.equal(r.state, 'rejected');
    assert.equal(answer(r), 60);
  });

  it('treats a file that is not a fleetnet cache (garbage, empty, cut short, no V8 data) as unreadable', () => {
    const b = bundle('garbage.cjs', 7);
    const src = readFileSync(b);
    const header = cacheHeader(src.length);
    const cut = [Buffer.from('garbage without a newline'), Buffer.alloc(0), Buffer.from('\n'), Buffer.from(`${header}\n`), cacheFileBytes(header, src.subarray(0, 10), Buffer.alloc(0))];
    for (const content of [...cut, cacheFileBytes(header, src, Buffer.alloc(0))]) {
      writeFileSync(`${b}.cache`, content);
      const r = run(b);
      assert.equal(r.state, 'unreadable');
      assert.equal(answer(r), 70);
    }
  });

  it("mode 'off' reads no cache even when a valid one is there", () => {
    const b = bundle('off.cjs', 8);
    run(b, 'write').saveCache();
    const r = run(b, 'off');
    assert.equal(r.state, 'off');
    assert.equal(answer(r), 80);
  });

  it('runs the bundle once per argument list, each a fresh module, and caches what all of them compiled', () => {
    const path = join(dir, 'runs.cjs');
    writeFileSync(path, [
      "'use strict';",
      'globalThis.fleetnetTestRuns ??= [];',
      "function first() { return 'first path'; }",
      "function second() { return 'second path'; }",
      "globalThis.fleetnetTestRuns.push(process.argv[2] === 'a' ? first() : second());",
      'module.exports = process.argv.slice(2);',
      '',
    ].join('\n'));
    const argv = process.argv;
    const g = globalThis as { fleetnetTestRuns?: string[] };
    try {
      const r = runBundle({ bundlePath: path, cachePath: `${path}.cache`, mode: 'write', runs: [['a'], ['b', 'c']] });
      assert.deepEqual(g.fleetnetTestRuns, ['first path', 'second path']);
      assert.deepEqual(r.exports, ['b', 'c'], 'the last run\'s module');
      r.saveCache();
      process.argv = [argv[0]!, argv[1]!, 'a'];
      assert.equal(runBundle({ bundlePath: path, cachePath: `${path}.cache` }).state, 'used');
      assert.deepEqual(g.fleetnetTestRuns, ['first path', 'second path', 'first path']);
    } finally {
      process.argv = argv;
      delete g.fleetnetTestRuns;
    }
  });

  it('keeps stack traces on the bundle\'s own line numbers', () => {
    const path = join(dir, 'throws.cjs');
    writeFileSync(path, "'use strict';\n\nthrow new Error('line 3');\n");
    assert.throws(() => run(path), (err: Error) => err.stack!.includes(`${path}:3`));
  });
});

describe('bin/fleetnet.cjs', () => {
  it('says the bundle is not built (exit 1) when dist/ is missing, instead of a stack trace', async () => {
    const { spawnSync } = await import('node:child_process');
    const { cpSync, mkdirSync } = await import('node:fs');
    const root = join(dir, 'unbuilt');
    mkdirSync(join(root, 'bin'), { recursive: true });
    cpSync('bin/fleetnet.cjs', join(root, 'bin', 'fleetnet.cjs'));
    const r = spawnSync(process.execPath, [join(root, 'bin', 'fleetnet.cjs'), '--version'], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /the bundle is not built; run `npm run build`/);
  });
});
