// What a clean pass leaves behind, standing in for a read-back on the next ApplyMesh: after a pass
// with no error, this host's tunnels are the spec's, so the next spec's difference from it is all
// there is to do. Only the periodic pass reads everything back (and repairs drift by hand). And what
// the BFD watch shows, standing in for a read of the database (status, and the periodic pass).
import { diffTunnels, type Tunnel } from '../../common/mesh.js';
import type { MeshSpec } from './spec.js';
import type { OvsMeshState } from './ovs-tunnels.js';
import { bfdUp } from './status.js';

export const kernelTunnels = (s: MeshSpec): Tunnel[] =>
  s.networks.filter((n) => n.kind === 'bridge').flatMap((n) => n.tunnels);

/** The same tunnels with the same settings (the firewall derives from them, so it is the same too). */
export function sameTunnels(a: readonly Tunnel[], b: readonly Tunnel[]): boolean {
  const d = diffTunnels(a, b);
  return !d.add.length && !d.remove.length;
}

/**
 * The OVS state a settled spec implies, or undefined when it cannot stand in for a read-back: a
 * wanted bridge that held no tunnel then may not exist (making it is the full pass's decision).
 */
export function settledOvs(settled: MeshSpec | undefined, want: MeshSpec): OvsMeshState | undefined {
  if (!settled) return undefined;
  const tunnels = settled.networks.filter((n) => n.kind === 'ovs').flatMap((n) => n.tunnels);
  const bridges = new Set(tunnels.map((t) => t.bridge));
  const ovs = want.networks.filter((n) => n.kind === 'ovs' && n.tunnels.length);
  if (ovs.some((n) => !bridges.has(n.bridge))) return undefined;
  return { bridges, tunnels, bfd: new Map(), broken: new Map() };
}

/**
 * This host's OVS tunnels as the BFD watch sees them (its snapshot, `bfd`), when that can stand in for a read
 * of the database: the watch is live, the last pass left the spec held converged with no error (so no broken
 * bridge), and every wanted port has its interface row (one the watch has not heard of yet, or deleted by
 * hand, is looked up in the database: "missing" is said only from a real read).
 */
export function watchedOvs(
  spec: MeshSpec,
  settled: MeshSpec | undefined,
  bfd: Map<string, Record<string, string>> | undefined,
): OvsMeshState | undefined {
  if (!bfd || settled !== spec) return undefined;
  const tunnels = spec.networks.flatMap((n) => n.tunnels);
  if (tunnels.some((t) => t.kind === 'ovs' && !bfd.has(t.port))) return undefined;
  return { bridges: new Set(tunnels.map((t) => t.bridge)), tunnels, bfd, broken: new Map() };
}

/**
 * Whether every tunnel of an OVS-only spec (of the network, when given) is up by its BFD status in the watched
 * state; undefined when that cannot tell (no watched state, or kernel tunnels wanted).
 */
export function watchedUp(live: OvsMeshState | undefined, spec: MeshSpec, network?: string): boolean | undefined {
  if (!live || spec.networks.some((n) => n.kind !== 'ovs')) return undefined;
  return spec.networks.every(
    (n) => (network && n.network !== network) || n.tunnels.every((t) => bfdUp(live.bfd.get(t.port))),
  );
}
