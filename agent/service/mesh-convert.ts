// Proto ↔ domain for the mesh RPCs: a MeshSpec message becomes the Mesher's checked MeshSpec.
import { invalid } from '../../common/errors.js';
import { checkWaitUpMs, VXLAN_PORT, type MeshEncap, type MeshKind } from '../../common/mesh.js';
import type {
  MeshReply,
  MeshSpec as MeshSpecMsg,
  MeshStatusReply,
  MeshStatusRequest,
} from '../../proto/gen/fleetnet/v1/agent.js';
import type { StatusQuery } from '../mesh/mesher.js';
import { checkMeshSpec, type MeshResult, type MeshSpec } from '../mesh/spec.js';
import type { TunnelStatus } from '../mesh/status.js';

export function meshSpecFromProto(m: MeshSpecMsg): MeshSpec {
  const spec: MeshSpec = {
    generation: m.generation,
    networks: m.networks.map((n) => {
      if (n.kind !== 'ovs' && n.kind !== 'bridge')
        throw invalid(`network ${n.network}: kind '${n.kind}' is not ovs or bridge`);
      if (n.encap !== 'gre' && n.encap !== 'vxlan')
        throw invalid(`network ${n.network}: encapsulation '${n.encap}' is not gre or vxlan`);
      const kind: MeshKind = n.kind;
      const encap: MeshEncap = n.encap;
      // what a network's tunnels repeat of it
      const own = { network: n.network, kind, encap, key: n.key, bridge: n.bridge, localIp: n.localIp };
      return {
        ...own,
        mtu: n.mtu,
        ...(n.datapathType ? { datapathType: n.datapathType } : {}),
        tunnels: n.tunnels.map((t) => ({
          ...own,
          port: t.port,
          peer: t.peer,
          peerIp: t.peerIp,
          ...(kind === 'bridge' && encap === 'vxlan' ? { dstPort: t.dstPort || VXLAN_PORT } : {}),
        })),
      };
    }),
  };
  return checkMeshSpec(spec);
}

export function meshReplyToProto(r: MeshResult): MeshReply {
  return {
    generation: r.generation,
    added: r.added.length,
    removed: r.removed.length,
    kept: r.kept,
    changes: r.changes,
    errors: r.errors,
  };
}

export function meshStatusToProto(generation: number, ts: TunnelStatus[]): MeshStatusReply {
  return { generation, tunnels: ts.map((t) => ({ ...t })) };
}

/** A MeshStatus request as the Mesher takes it: a wait over ten minutes is refused, not cut short. */
export function meshStatusQuery(r: MeshStatusRequest): StatusQuery {
  checkWaitUpMs(r.waitUpMs);
  return { ...(r.network ? { network: r.network } : {}), ...(r.waitUpMs ? { waitUpMs: r.waitUpMs } : {}) };
}
