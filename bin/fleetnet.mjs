#!/usr/bin/env node
// The fleetnet executable: runs the bundle built by `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const bundle = fileURLToPath(new URL('../dist/fleetnet.js', import.meta.url));
if (!existsSync(bundle)) {
  process.stderr.write('fleetnet: the bundle is not built; run `npm run build` in the fleetnet folder\n');
  process.exit(1);
}
await import(bundle);
