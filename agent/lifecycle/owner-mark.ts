// The alias an agent sets on the host-side veths it makes: `fleetnet:` + a hash of its state dir, so
// that it recognises its own after a restart (same state dir) and never another agent's.
import { createHash } from 'node:crypto';
import { resolve } from 'node:path';

export function ownerMarkOf(stateDir: string): string {
  return `fleetnet:a${createHash('sha256').update(resolve(stateDir)).digest('hex').slice(0, 10)}`;
}
