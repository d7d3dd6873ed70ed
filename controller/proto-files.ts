// Where the .proto files are at run time (for server reflection): walk up from this module until
// proto/fleetnet/v1 appears; works from the sources (tsx) and from the bundle in dist/.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FleetnetError } from '../common/errors.js';

export function findProtoDir(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from, i = 0; i < 8; i++, dir = dirname(dir)) {
    if (existsSync(join(dir, 'proto', 'fleetnet', 'v1', 'controller.proto'))) return join(dir, 'proto');
  }
  throw new FleetnetError('failed', `cannot find proto/fleetnet/v1/controller.proto above ${from}`, {
    hint: 'install fleetnet with its proto/ folder next to dist/',
  });
}
