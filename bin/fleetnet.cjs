#!/usr/bin/env node
// The fleetnet executable: runs the CLI bundle built by `npm run build` (dist/fleetnet.cjs, which
// hands any command but attach, detach and ls to dist/fleetnet-all.cjs). CommonJS on purpose: an ES
// module entry costs every process the ES module loader before any of fleetnet's own code runs.
//
// Compiled code is kept on disk so that a new process does not compile the bundle again, in Node's
// compile cache folder (NODE_COMPILE_CACHE, or the temp folder's node-compile-cache;
// NODE_DISABLE_COMPILE_CACHE=1 turns it off). dist/fleetnet-all.cjs goes through Node's own compile
// cache (module.enableCompileCache). The fast bundle is compiled here with node:vm instead: Node's
// cache is made right after compiling, when V8 has compiled only the top level, so every function a
// command calls (commander's parsing, the attach path, the gRPC client) was compiled from source again
// in every process. vm.Script#createCachedData, called as the process exits, holds those too; one cache
// per command (attach, detach and ls run different functions), made again when the bundle changes.
'use strict';
const { createRequire, enableCompileCache, getCompileCacheDir } = require('node:module');
const { closeSync, fstatSync, openSync, readFileSync, renameSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { Script } = require('node:vm');

const dist = join(__dirname, '..', 'dist');
const bundle = join(dist, 'fleetnet.cjs');
enableCompileCache(); // a cache that cannot be made (read-only folder) is only a slower start
let source;
let stat;
try {
  // stat and text of the same file (the one open), so a cache is never keyed with another build's stat
  const fd = openSync(bundle, 'r');
  stat = fstatSync(fd);
  source = readFileSync(fd, 'latin1'); // the build writes ASCII: one byte a character
  closeSync(fd);
} catch {
  process.stderr.write('fleetnet: the bundle is not built; run `npm run build` in the fleetnet folder\n');
  process.exit(1);
}

/** FNV-1a of a string: a short file name for this bundle's path (node:crypto costs a process ~5 ms to load). */
function fnv1a(s) {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16);
}

// V8 checks a code cache against the source's length only: the bundle's size, time and inode go
// in the file's first line, and a cache of another build is never offered to V8.
const cacheDir = getCompileCacheDir();
const word = process.argv.slice(2).find((a) => a === 'attach' || a === 'detach' || a === 'ls') ?? 'other';
const cacheFile = cacheDir && join(cacheDir, `fleetnet-${word}-${fnv1a(bundle)}.v8cache`);
const key = `${stat.size} ${stat.mtimeMs} ${stat.ino}`;
let cachedData;
if (cacheFile) {
  try {
    const buf = readFileSync(cacheFile);
    const nl = buf.indexOf(10);
    if (nl > 0 && buf.toString('latin1', 0, nl) === key) cachedData = buf.subarray(nl + 1);
  } catch {} // none yet
}
// (the build turned the bundle's import() calls into require(): a vm.Script has no import())
const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
  filename: bundle,
  cachedData,
});
if (cacheFile && (!cachedData || script.cachedDataRejected)) {
  process.once('exit', (code) => {
    if (code !== 0) return; // a run that failed early may not have run the command's code: the next one
    try {
      const tmp = `${cacheFile}.${process.pid}`;
      writeFileSync(tmp, Buffer.concat([Buffer.from(`${key}\n`, 'latin1'), script.createCachedData()]), {
        mode: 0o600,
      });
      renameSync(tmp, cacheFile); // whole or not at all, for a process starting meanwhile
    } catch {} // a read-only folder: the next process compiles again
  });
}
// The bundle's `module`, in require.cache as a required file would be (documented: entries may be added).
const mod = { id: bundle, filename: bundle, path: dist, loaded: false, exports: {}, children: [], paths: [] };
require.cache[bundle] = mod;
script.runInThisContext()(mod.exports, createRequire(bundle), mod, bundle, dist);
mod.loaded = true;
