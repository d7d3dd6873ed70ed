// gRPC handlers of the controller's mesh RPCs: one store decision, then the hosts whose tunnels
// change get their whole plan pushed (ApplyMesh), and the reply says what each agent did.
import type { Logger } from 'pino';
import { unsupported } from '../../common/errors.js';
import type {
  FleetMeshStatusRequest,
  MeshMemberRequest,
  MeshMemberReply,
} from '../../proto/gen/fleetnet/v1/controller.js';
import { meshAdd, meshRemove } from '../mesh/fleet-mesh.js';
import type { HostMeshState, MeshPusher } from '../mesh/push.js';
import type { Store } from '../store/store.js';
import { networkToProto } from './convert.js';

export interface MeshServiceDeps {
  store: Store;
  mesh?: MeshPusher;
  log: Logger;
}

function pusher(d: MeshServiceDeps): MeshPusher {
  if (!d.mesh) throw unsupported('this controller runs without the mesh');
  return d.mesh;
}

function hostResults(states: HostMeshState[]): MeshMemberReply['hosts'] {
  return states.map((s) => ({
    host: s.host,
    generation: s.generation,
    added: s.reply?.added ?? 0,
    removed: s.reply?.removed ?? 0,
    error: s.error,
  }));
}

/** Handlers keyed as the generated Controller service names them; wrap each with the service's `unary`. */
export function meshHandlers(d: MeshServiceDeps) {
  return {
    meshAdd: async (r: MeshMemberRequest): Promise<MeshMemberReply> => {
      const m = pusher(d);
      const res = await d.store.transact((tx) => meshAdd(tx, r.network, r.host));
      if (res.changed) d.log.info({ net: r.network, host: r.host }, 'host joined the mesh');
      const count = await d.store.read((tx) => tx.countAttachments({ net: r.network }));
      return {
        network: networkToProto(res.network, count),
        changed: res.changed,
        hosts: hostResults(await m.push(res.hosts)),
      };
    },
    meshRemove: async (r: MeshMemberRequest): Promise<MeshMemberReply> => {
      const m = pusher(d);
      const res = await d.store.transact((tx) => meshRemove(tx, r.network, r.host));
      if (res.changed) d.log.info({ net: r.network, host: r.host }, 'host left the mesh');
      const count = await d.store.read((tx) => tx.countAttachments({ net: r.network }));
      return {
        network: networkToProto(res.network, count),
        changed: res.changed,
        hosts: hostResults(await m.push(res.hosts)),
      };
    },
    fleetMeshStatus: async (r: FleetMeshStatusRequest) => {
      const all = await pusher(d).status(r.network || undefined);
      return {
        tunnels: all.flatMap((h) =>
          h.reply
            ? h.reply.tunnels.map((t) => ({
                host: h.host,
                network: t.network,
                peer: t.peer,
                peerIp: t.peerIp,
                port: t.port,
                state: t.state,
                detail: t.detail,
                checkedAtMs: t.checkedAtMs,
              }))
            : [
                {
                  host: h.host,
                  network: r.network,
                  peer: '',
                  peerIp: '',
                  port: '',
                  state: 'unreachable',
                  detail: h.error,
                  checkedAtMs: Date.now(),
                },
              ],
        ),
      };
    },
  };
}
