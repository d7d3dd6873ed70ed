// Runs the CLI bundle (dist/fleetnet.cjs, one CommonJS file) with a V8 code cache made by
// `npm run build`, so that a new fleetnet process does not compile the code it runs: Node 20 has
// no module.enableCompileCache, and it compiles every module from source on every start.
//
// The cache is only a speed-up, never a source of truth. The cache file holds the exact bundle it
// was made from, and is used only when that copy is byte for byte the bundle about to run (one
// memcmp: cheaper than hashing it, and exact), and when its header names this Node version, V8
// version and architecture; V8 checks its own version and flags once more and may still reject
// it. A missing, unreadable, foreign or rejected cache means: compile from source, as if there
// were none. V8 alone checks no more than the source's length (it runs the cached code of an
// older bundle of the same length), which is why the content check is ours.
//
// This file is bundled on its own into dist/boot.cjs (scripts/build.mjs) and loaded by
// bin/fleetnet.cjs before the bundle: it imports node built-ins only.
import { isAscii } from 'node:buffer';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

/** What happened to the cache in this run (tests and `FLEETNET_CODE_CACHE=report` read it). */
export type CacheState =
  | 'used' // accepted: the bundle ran from cached code
  | 'missing' // no cache file
  | 'unreadable' // a cache file that is not one of ours (no or a broken header)
  | 'stale' // made for another bundle, Node, V8 or architecture: ignored
  | 'rejected' // our header matched, V8 refused the data: compiled from source
  | 'off' // FLEETNET_CODE_CACHE=off
  | 'writing'; // npm run build: compiled from source, the cache is written at exit (saveCache)

const MAGIC = 'fleetnet-code-cache/2';
const MAX_HEADER = 512;

/** The header line a cache must carry to be used by this very Node (the bundle's length ends it). */
export function cacheHeader(bundleBytes: number): string {
  return `${MAGIC} node=${process.version} v8=${process.versions.v8} arch=${process.arch} bundle=${bundleBytes}`;
}

/** The cache file's layout: header line, newline, the bundle's bytes, V8's data. */
export function cacheFileBytes(header: string, bundle: Uint8Array, data: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`${header}\n`, 'latin1'), bundle, data]);
}

/** A cache file's parts; undefined when the file is not a fleetnet code cache (or is cut short). */
export function splitCacheFile(file: Buffer): { header: string; bundle: Buffer; data: Buffer } | undefined {
  const nl = file.indexOf(10);
  if (nl <= 0 || nl > MAX_HEADER) return undefined;
  const header = file.subarray(0, nl).toString('latin1');
  const size = /^fleetnet-code-cache\/2 .* bundle=(\d+)$/.exec(header)?.[1];
  if (size === undefined || file.length < nl + 1 + Number(size)) return undefined;
  const end = nl + 1 + Number(size);
  return { header, bundle: file.subarray(nl + 1, end), data: file.subarray(end) };
}

export interface RunOptions {
  bundlePath: string;
  cachePath: string;
  /** 'use' (the default), 'off' (ignore any cache), or 'write' (compile from source; saveCache() writes it). */
  mode?: 'use' | 'off' | 'write';
  /**
   * Run the bundle once per argument list (process.argv after the script), one after the other in
   * this process (npm run build: every command path that should be in the cache compiles once;
   * a fresh module each time). Without it: once, with this process's own arguments.
   */
  runs?: readonly (readonly string[])[];
}

export interface RunResult {
  state: CacheState;
  exports: unknown;
  /** Writes the cache from what V8 has compiled so far (top level and every function run until now). */
  saveCache(): void;
}

function readCache(path: string, bundle: Buffer): { data?: Buffer; state: CacheState } {
  let file: Buffer;
  try {
    file = readFileSync(path);
  } catch (err) {
    return { state: (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'unreadable' };
  }
  const parts = splitCacheFile(file);
  if (!parts || parts.data.length === 0) return { state: 'unreadable' };
  if (parts.header !== cacheHeader(bundle.length) || !parts.bundle.equals(bundle)) return { state: 'stale' };
  return { data: parts.data, state: 'used' };
}

/** Writes the cache next to where it belongs, then renames it into place (a reader never sees half a file). */
function writeCache(path: string, bundle: Buffer, data: Buffer): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, cacheFileBytes(cacheHeader(bundle.length), bundle, data));
  renameSync(tmp, path);
}

/**
 * Compiles and runs a CommonJS bundle the way Node's own loader would (same wrapper, same
 * arguments, a real `require` relative to the bundle), with the code cache when it is valid.
 */
export function runBundle(o: RunOptions): RunResult {
  const mode = o.mode ?? 'use';
  const bundle = readFileSync(o.bundlePath);
  // esbuild writes ASCII (charset: ascii), and latin1 makes a one-byte string without decoding.
  const source = bundle.toString(isAscii(bundle) ? 'latin1' : 'utf8');
  const cache: { data?: Buffer; state: CacheState } = mode === 'use' ? readCache(o.cachePath, bundle) : { state: mode === 'off' ? 'off' : 'writing' };
  // The wrapper's own line comes first: lineOffset -1 keeps stack traces on the bundle's line numbers.
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {\n${source}\n})`, {
    filename: o.bundlePath,
    lineOffset: -1,
    ...(cache.data ? { cachedData: cache.data } : {}),
  });
  const state: CacheState = cache.data && script.cachedDataRejected ? 'rejected' : cache.state;
  const fn = script.runInThisContext() as (e: unknown, r: NodeJS.Require, m: { exports: unknown }, f: string, d: string) => void;
  const run = () => {
    const module = { exports: {} as unknown };
    fn.call(module.exports, module.exports, createRequire(o.bundlePath), module, o.bundlePath, dirname(o.bundlePath));
    return module.exports;
  };
  let exports: unknown;
  for (const argv of o.runs ?? [undefined]) {
    if (argv) process.argv = [process.argv[0]!, process.argv[1]!, ...argv];
    exports = run();
  }
  return { state, exports, saveCache: () => writeCache(o.cachePath, bundle, script.createCachedData()) };
}

/** bin/fleetnet.cjs: the CLI bundle in `dist`, its cache beside it; FLEETNET_CODE_CACHE=off ignores the cache. */
export function runCli(dist: string, env: NodeJS.ProcessEnv = process.env): RunResult {
  const bundlePath = `${dist}/fleetnet.cjs`;
  const writeTo = env.FLEETNET_BUILD_CODE_CACHE; // set by scripts/build.mjs only, with the runs to make
  if (writeTo) {
    const runs = env.FLEETNET_BUILD_CODE_CACHE_RUNS ? (JSON.parse(env.FLEETNET_BUILD_CODE_CACHE_RUNS) as string[][]) : undefined;
    const r = runBundle({ bundlePath, cachePath: writeTo, mode: 'write', ...(runs ? { runs } : {}) });
    process.once('exit', () => r.saveCache()); // after the command ran: its functions are compiled by then
    return r;
  }
  const r = runBundle({ bundlePath, cachePath: `${bundlePath}.cache`, mode: env.FLEETNET_CODE_CACHE === 'off' ? 'off' : 'use' });
  if (env.FLEETNET_CODE_CACHE === 'report') process.stderr.write(`fleetnet: code cache ${r.state}\n`);
  return r;
}
