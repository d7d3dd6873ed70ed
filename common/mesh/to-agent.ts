// What an agent is sent for its part of a mesh (controller push, local `mesh apply`): an ApplyMesh request.
import type { MeshSpec } from '../../proto/gen/fleetnet/v1/agent.js';
import type { HostPlan } from './plan.js';

export interface AgentMeshOptions {
  /** Datapath type for OVS bridges the mesh creates on the host (netdev for user-space OVS, as in the lab). */
  datapathType?: string;
}

/** The ApplyMesh request for one host: its plan under the host's mesh generation. */
export function agentMeshSpec(plan: HostPlan, generation: number, o: AgentMeshOptions = {}): MeshSpec {
  return {
    generation,
    networks: plan.networks.map((n) => ({
      network: n.network,
      kind: n.kind,
      encap: n.encap,
      key: n.key,
      bridge: n.bridge,
      localIp: n.localIp,
      mtu: n.mtu,
      datapathType: o.datapathType ?? '',
      tunnels: n.tunnels.map((t) => ({ peer: t.peer, peerIp: t.peerIp, port: t.port, dstPort: t.dstPort ?? 0 })),
    })),
  };
}
