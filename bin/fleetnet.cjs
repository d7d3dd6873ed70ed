#!/usr/bin/env node
// The fleetnet executable: runs the CLI bundle built by `npm run build` (dist/fleetnet.cjs) with
// its V8 code cache (dist/boot.cjs is cli/boot/code-cache.ts). CommonJS on purpose: an ES module
// entry costs every process the ES module loader before any of fleetnet's own code runs.
'use strict';
const { join } = require('node:path');

const dist = join(__dirname, '..', 'dist');
let boot;
try {
  boot = require(join(dist, 'boot.cjs'));
} catch (err) {
  if (err && err.code !== 'MODULE_NOT_FOUND') throw err;
  process.stderr.write('fleetnet: the bundle is not built; run `npm run build` in the fleetnet folder\n');
  process.exit(1);
}
boot.runCli(dist);
