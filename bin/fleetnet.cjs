#!/usr/bin/env node
// The fleetnet executable: runs the CLI entry built by `npm run build` (dist/fleetnet.cjs, which hands
// attach, detach and ls to dist/fleetnet-fast.cjs and any other command to dist/fleetnet-all.cjs) with
// Node's own compile cache (module.enableCompileCache: V8 code for the bundle kept on disk, in
// NODE_COMPILE_CACHE or the temp folder's node-compile-cache; NODE_DISABLE_COMPILE_CACHE=1 turns
// it off), so a new process does not compile the whole bundle again. CommonJS on purpose: an ES
// module entry costs every process the ES module loader before any of fleetnet's own code runs.
'use strict';
const { existsSync } = require('node:fs');
const { enableCompileCache } = require('node:module');
const { join } = require('node:path');

const bundle = join(__dirname, '..', 'dist', 'fleetnet.cjs');
enableCompileCache(); // a cache that cannot be made (read-only folder) is only a slower start
// one stat: require.resolve would resolve the path (and look for a package.json) once more before require does
if (!existsSync(bundle)) {
  process.stderr.write('fleetnet: the bundle is not built; run `npm run build` in the fleetnet folder\n');
  process.exit(1);
}
require(bundle);
