// bin/fleetnet.cjs: runs the bundles with compiled code kept on disk, and says so when there is no bundle.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
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

  it("keeps the whole CLI's compiled code in Node's compile cache (NODE_COMPILE_CACHE), and runs from it", async () => {
    const bin = await ensureBuilt();
    const env = { ...process.env, NODE_COMPILE_CACHE: join(dir, 'all-cache'), NODE_DEBUG_NATIVE: 'COMPILE_CACHE' };
    const run = () => spawnSync(process.execPath, [bin, 'completion', 'bash'], { encoding: 'utf8', env });
    assert.equal(run().status, 0);
    const second = run();
    assert.equal(second.status, 0, second.stderr);
    assert.match(second.stderr, /V8 code cache for CommonJS \S*dist[\\/]fleetnet-all\.cjs was accepted/);
  });

  describe("the fast bundle's code cache, made after the command ran", () => {
    // A copy of bin/ and the fast bundle: the test changes the bundle.
    const root = join(dir, 'copy');
    mkdirSync(join(root, 'dist'), { recursive: true });
    cpSync('bin', join(root, 'bin'), { recursive: true });
    const cache = join(dir, 'fast-cache');
    const env = { ...process.env, NODE_COMPILE_CACHE: cache };
    const version = () => {
      const r = spawnSync(process.execPath, [join(root, 'bin', 'fleetnet.cjs'), '--version'], {
        encoding: 'utf8',
        env,
      });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout.trim(), VERSION);
    };
    const cacheFiles = () => filesUnder(cache).filter((f) => /fleetnet-other-[0-9a-f]+\.v8cache$/.test(f));
    /** The one cache file: its first line (the bundle it is for) and when it was written. */
    const cacheFile = () => {
      const [f, ...more] = cacheFiles();
      assert.ok(f, 'a cache file');
      assert.deepEqual(more, []);
      return { f, key: readFileSync(f, 'latin1').split('\n', 1)[0]!, mtimeNs: statSync(f, { bigint: true }).mtimeNs };
    };

    it('is written by the first run and used, not written again, by the next', async () => {
      await ensureBuilt();
      cpSync('dist/fleetnet.cjs', join(root, 'dist', 'fleetnet.cjs'));
      version();
      const first = cacheFile();
      const size = statSync(join(root, 'dist', 'fleetnet.cjs')).size;
      assert.match(first.key, new RegExp(`^${size} `), 'keyed by the bundle it is for');
      version();
      assert.equal(cacheFile().mtimeNs, first.mtimeNs, 'accepted: not made again');
    });

    it('is made again for a changed bundle, and after V8 refused it', () => {
      appendFileSync(join(root, 'dist', 'fleetnet.cjs'), '\n// another build\n');
      const before = cacheFile();
      version();
      const rebuilt = cacheFile();
      assert.notEqual(rebuilt.key, before.key, 'a cache of another build is never offered to V8');
      // same key, garbage for V8: refused, the command still runs, and the cache is made again
      writeFileSync(rebuilt.f, `${rebuilt.key}\nnot a code cache`);
      version();
      assert.ok(readFileSync(cacheFile().f).length > 1000, 'a real cache again');
    });

    it('is not made with NODE_DISABLE_COMPILE_CACHE=1', () => {
      rmSync(cache, { recursive: true, force: true });
      const r = spawnSync(process.execPath, [join(root, 'bin', 'fleetnet.cjs'), '--version'], {
        encoding: 'utf8',
        env: { ...env, NODE_DISABLE_COMPILE_CACHE: '1' },
      });
      assert.equal(r.stdout.trim(), VERSION, r.stderr);
      assert.equal(existsSync(cache) ? cacheFiles().length : 0, 0);
    });
  });
});
