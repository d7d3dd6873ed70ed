#!/usr/bin/env node
// The fleetnet executable: runs the CLI bundle built by `npm run build` (dist/fleetnet.cjs) with
// its V8 code cache (dist/boot.cjs is cli/boot/code-cache.ts). CommonJS on purpose: an ES module
// entry costs every process the ES module loader before any of fleetnet's own code runs.
'use strict';
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const dist = join(__dirname, '..', 'dist');
if (!existsSync(join(dist, 'boot.cjs')) || !existsSync(join(dist, 'fleetnet.cjs'))) {
  process.stderr.write('fleetnet: the bundle is not built; run `npm run build` in the fleetnet folder\n');
  process.exit(1);
}
require(join(dist, 'boot.cjs')).runCli(dist);
