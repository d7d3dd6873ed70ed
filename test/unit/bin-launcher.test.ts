// bin/fleetnet.cjs: runs the bundle with Node's compile cache, and says so when there is no bundle.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { VERSION } from '../../common/version.js';
import { ensureBuilt } from '../helpers/build.js';

const dir = mkdtempSync(join(tmpdir(), 'fleetnet-bin-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Every file under a folder, recursively. */
function filesUnder(d: string): string[] {
  return readdirSync(d, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

describe('bin/fleetnet.cjs', () => {
  it('says the bundle is not built (exit 1) when dist/ is missing, instead of a stack trace', () => {
    const root = join(dir, 'unbuilt');
    mkdirSync(join(root, 'bin'), { recursive: true });
    cpSync('bin/fleetnet.cjs', join(root, 'bin', 'fleetnet.cjs'));
    const r = spawnSync(process.execPath, [join(root, 'bin', 'fleetnet.cjs'), '--version'], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /the bundle is not built; run `npm run build`/);
  });

  it('keeps the compiled bundle in the compile cache (NODE_COMPILE_CACHE), and runs from it next time', async () => {
    const bin = await ensureBuilt();
    const cache = join(dir, 'compile-cache');
    const env = { ...process.env, NODE_COMPILE_CACHE: cache, NODE_DEBUG_NATIVE: 'COMPILE_CACHE' };
    const first = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8', env });
    assert.equal(first.status, 0, first.stderr);
    assert.equal(first.stdout.trim(), VERSION);
    assert.ok(filesUnder(cache).length > 0, 'the first run wrote a cache');
    const second = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8', env });
    assert.equal(second.status, 0, second.stderr);
    assert.match(second.stderr, /V8 code cache for CommonJS \S*dist[\\/]fleetnet\.cjs was accepted/);
  });
});
