// What a clean pass leaves behind, standing in for a read-back on the next ApplyMesh: after a pass
// with no error, this host's tunnels are the spec's, so the next spec's difference from it is all
// there is to do. Only the periodic pass reads everything back (and repairs drift by hand).
import { diffTunnels, type Tunnel } from '../../common/mesh.js';
import type { MeshSpec } from './spec.js';
import type { OvsMeshState } from './ovs-tunnels.js';

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
