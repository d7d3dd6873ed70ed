// gRPC handlers of the controller's mesh RPCs: one store decision, then the hosts whose tunnels
// change get their whole plan pushed (ApplyMesh), and the reply says what each agent did.
import type { Logger } from 'pino';
import { unsupported } from '../../common/errors.js';
import { checkWaitUpMs } from '../../common/mesh.js';
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

/** The hosts a request names: `hosts`, and `host` from clients that send one. */
function requestHosts(r: MeshMemberRequest): string[] {
  return [...(r.host ? [r.host] : []), ...r.hosts];
}

/** One store decision for every host named, then each member whose tunnels change is pushed once. */
async function member(d: MeshServiceDeps, r: MeshMemberRequest, verb: 'add' | 'rm'): Promise<MeshMemberReply> {
  const m = pusher(d);
  const hosts = requestHosts(r);
  const res = await d.store.transact((tx) => (verb === 'add' ? meshAdd : meshRemove)(tx, r.network, hosts));
  if (res.changed)
    d.log.info({ net: r.network, hosts }, verb === 'add' ? 'hosts joined the mesh' : 'hosts left the mesh');
  const count = await d.store.read((tx) => tx.countAttachments({ net: r.network }));
  // The hosts joining go first: each has a tunnel to make to every member, the members one each.
  const joining = verb === 'add' ? res.hosts.filter((h) => hosts.includes(h)) : [];
  const states = await m.push([...joining, ...res.hosts.filter((h) => !joining.includes(h))]);
  const byHost = new Map(states.map((s) => [s.host, s]));
  return {
    network: networkToProto(res.network, count),
    changed: res.changed,
    hosts: hostResults(res.hosts.map((h) => byHost.get(h)!)),
  };
}

/** Handlers keyed as the generated Controller service names them; wrap each with the service's `unary`. */
export function meshHandlers(d: MeshServiceDeps) {
  return {
    meshAdd: (r: MeshMemberRequest) => member(d, r, 'add'),
    meshRemove: (r: MeshMemberRequest) => member(d, r, 'rm'),
    fleetMeshStatus: async (r: FleetMeshStatusRequest, ctx?: { signal: AbortSignal }) => {
      const all = await pusher(d).status(r.network || undefined, {
        waitUpMs: checkWaitUpMs(r.waitUpMs),
        ...(ctx ? { signal: ctx.signal } : {}),
      });
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
