// What the controller asks of an agent's mesh (one generation of this host's tunnels, by network), how it is
// checked on arrival and on reading it back from the state folder, and what a pass reports.
import { invalid } from '../../common/errors.js';
import { checkTunnel, type NetworkTunnels, type Tunnel } from '../../common/mesh.js';

export interface MeshNetworkSpec extends NetworkTunnels {
  /** OVS bridges made by the mesh get this datapath type (e.g. netdev); absent: OVS's default. */
  datapathType?: string;
}

export interface MeshSpec {
  generation: number;
  networks: MeshNetworkSpec[];
}

export interface MeshResult {
  generation: number;
  added: Tunnel[];
  removed: Tunnel[];
  kept: number;
  /**
   * Mutating commands run: one per OVS network's additions and one per its removals (one transaction
   * each), per kernel device made or removed, per flood entry, per firewall replace.
   */
  changes: number;
  /** kind: the error's (FleetnetError's; 'failed' for any other), see permanentMeshError. */
  errors: { network: string; message: string; kind: string }[];
}

export function checkMeshSpec(spec: MeshSpec): MeshSpec {
  if (!Number.isInteger(spec.generation) || spec.generation < 0)
    throw invalid(`mesh generation ${spec.generation} is not a whole number ≥ 0`);
  const seen = new Set<string>();
  for (const n of spec.networks) {
    if (seen.has(n.network)) throw invalid(`network ${n.network} appears twice in the mesh spec`);
    seen.add(n.network);
    if (!Number.isInteger(n.mtu) || n.mtu < 576 || n.mtu > 65535)
      throw invalid(`network ${n.network}: MTU ${n.mtu} is not 576..65535`);
    if (n.datapathType !== undefined && !/^[a-z]{1,16}$/.test(n.datapathType))
      throw invalid(`datapath type '${n.datapathType}' is not a plain word such as netdev or system`);
    for (const t of n.tunnels) {
      checkTunnel(t);
      if (
        t.network !== n.network ||
        t.kind !== n.kind ||
        t.encap !== n.encap ||
        t.key !== n.key ||
        t.bridge !== n.bridge ||
        t.localIp !== n.localIp
      ) {
        throw invalid(`tunnel ${t.port} to ${t.peer} does not match its network ${n.network}'s settings`);
      }
    }
  }
  return spec;
}
