// The fleetnet folder (where package.json, dist/ and deploy/ are), found from this module's
// location whether it runs from source (tsx) or from the bundle in dist/.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageRoot(from: string = fileURLToPath(import.meta.url)): string {
  for (let d = dirname(from), i = 0; i < 8; d = dirname(d), i++) {
    const p = join(d, 'package.json');
    if (existsSync(p) && (JSON.parse(readFileSync(p, 'utf8')) as { name?: string }).name === 'fleetnet') return d;
  }
  throw new Error(`fleetnet's package.json was not found above ${from}`);
}
