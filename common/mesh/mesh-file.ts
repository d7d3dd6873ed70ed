// A mesh described in a file (hosts + meshed networks), the input of `fleetnet mesh apply`:
// validated once with zod, then handed to planMesh. Loaded lazily by the CLI (zod stays out of --help).
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { invalid } from '../errors.js';
import type { MeshHost, MeshNetwork } from './plan.js';

const MeshFileSchema = z
  .object({
    hosts: z.array(
      z.object({ name: z.string(), underlayIp: z.string(), underlayMtu: z.number().int().optional() }).strict(),
    ),
    networks: z.array(
      z
        .object({
          name: z.string(),
          kind: z.enum(['ovs', 'bridge']),
          encap: z.enum(['gre', 'vxlan']).default('gre'),
          key: z.number().int(),
          bridge: z.string(),
          members: z.array(z.string()),
          dstPort: z.number().int().optional(),
        })
        .strict(),
    ),
  })
  .strict();

export function readMeshFile(path: string): { hosts: MeshHost[]; networks: MeshNetwork[] } {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw invalid(
      `cannot read mesh file ${path}: ${err instanceof Error ? err.message : String(err)}`,
      'give a JSON file like the example in fleetnet mesh apply --help',
    );
  }
  const r = MeshFileSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw invalid(
      `mesh file ${path}: ${i.path.join('.') || 'top level'}: ${i.message}`,
      'see the example in fleetnet mesh apply --help',
    );
  }
  return r.data;
}
