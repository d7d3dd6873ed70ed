// The fleetnet folder (where package.json, dist/ and deploy/ are), found from this module's
// location whether it runs from source (tsx) or from the bundle in dist/.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FleetnetError } from './errors.js';

export function packageRoot(from: string = fileURLToPath(import.meta.url)): string {
  for (let d = dirname(from), i = 0; i < 10; d = dirname(d), i++) {
    const p = join(d, 'package.json');
    try {
      if (existsSync(p) && (JSON.parse(readFileSync(p, 'utf8')) as { name?: string }).name === 'fleetnet') return d;
    } catch {
      /* an unreadable package.json is not ours: keep climbing */
    }
  }
  throw new FleetnetError('failed', `cannot find the fleetnet package folder above ${from}`, {
    hint: 'run fleetnet from its folder or an installed package',
  });
}
