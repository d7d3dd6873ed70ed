// gRPC handlers of the Controller service: proto in, one store decision, dispatcher kicked, proto out.
import type { ServerWritableStream, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { FleetnetError, invalid } from '../../common/errors.js';
import type { Rule } from '../../common/pki/authorize.js';
import { toServiceError, unary, type CallContext } from '../../common/rpc/server.js';
import { EncodedMessage } from '../../common/rpc/services.js';
import type {
  FleetAttachBatchItem,
  FleetAttachBatchRequest,
  FleetAttachReply,
  FleetAttachRequest,
  FleetDetachRequest,
  ListAttachmentsRequest,
  AddHostRequest,
  RemoveHostRequest,
  CreateNetworkRequest,
  RemoveNetworkRequest,
} from '../../proto/gen/fleetnet/v1/controller.js';
import { JsonChunk } from '../../proto/gen/fleetnet/v1/controller.js';
import { parseTarget, targetFromProto } from '../../common/attach/index.js';
import { decideAttach, decideDetach } from '../fleet/attachments.js';
import { fleetCheck } from '../fleet/check.js';
import { isNamedBy } from '../fleet/named-by.js';
import { pooledRandom } from '../mac/allocate.js';
import { addHost, leaveMeshes, noSuchHost, removeHost } from '../fleet/hosts.js';
import { createNetwork, noSuchNetwork, removeNetwork } from '../fleet/networks.js';
import type { Dispatcher } from '../dispatch/dispatcher.js';
import type { Store, Tx } from '../store/store.js';
import type { AttachmentRecord } from '../store/types.js';
import { attachmentView } from '../store/view.js';
import type { MeshPusher } from '../mesh/push.js';
import { meshHandlers, networkResult } from './mesh-service.js';
import {
  attachInputFromProto,
  attachmentToProto,
  hostToProto,
  networkInputFromProto,
  networkToProto,
} from './convert.js';

export interface ControllerServiceDeps {
  store: Store;
  dispatcher: Dispatcher;
  log: Logger;
  version: string;
  startedAtMs: number;
  maxWaitMs: number;
  now?: () => number;
  /** The mesh (ApplyMesh pushes); absent: the mesh RPCs answer `unsupported`. */
  mesh?: MeshPusher;
  /** Refuses the name of a host AddHost would create (a controller with a CA: names a certificate can carry). */
  newHostName?: (name: string) => void;
  /** Several controllers: which one dispatches to each host (ListHosts shows it). */
  owners?: () => Promise<Map<string, string>>;
}

/**
 * Controller RPCs an agent may call for its own host (its host certificate; `host` must name it):
 * the CNI plugin's addresses from the fleet (cni/fleet-link-grpc.ts) attach, detach and list the
 * agent's own attachments. A user's CLI certificate may still call them for any host.
 */
const OWN_HOST: Rule = { kind: 'host-self', field: 'host', alsoRoles: ['cli', 'controller'] };
export const HOST_SCOPED_POLICY: Readonly<Record<string, Rule>> = Object.freeze({
  '/fleetnet.v1.Controller/FleetAttach': OWN_HOST,
  '/fleetnet.v1.Controller/FleetDetach': OWN_HOST,
  '/fleetnet.v1.Controller/ListAttachments': OWN_HOST,
});

/** What a wait leaves of the caller's deadline for the reply to travel back. */
const REPLY_MARGIN_MS = 100;

/** The most attaches one FleetAttachBatch may carry. */
const MAX_BATCH = 1000;

/** JSON chunks stay well under grpc's default 4 MiB message limit. */
const JSON_CHUNK_BYTES = 1 << 20;

export function controllerService(d: ControllerServiceDeps): UntypedServiceImplementation {
  const { store, dispatcher, log } = d;
  const now = d.now ?? Date.now;
  const rand = pooledRandom();
  // The reply chunks of the last JSON text sent, encoded: the store hands out the same string until
  // an attachment changes, so repeated `ls --json` of a big fleet skip the 30 MB UTF-8 and protobuf
  // encoding (and its garbage).
  let lastJson: { text: string; chunks: EncodedMessage[] } | undefined;
  const jsonChunks = (text: string): EncodedMessage[] => {
    if (lastJson?.text !== text) {
      const buf = Buffer.from(text);
      const chunks: EncodedMessage[] = [];
      for (let off = 0; off < buf.length; off += JSON_CHUNK_BYTES)
        chunks.push(EncodedMessage.of(JsonChunk, { data: buf.subarray(off, off + JSON_CHUNK_BYTES) }));
      lastJson = { text, chunks };
    }
    return lastJson.chunks;
  };
  // A wait ends before the caller's deadline (so the reply still reaches it: the attachment as it stands).
  const waitOf = (ms: number, ctx?: CallContext) => {
    const w = Math.min(ms, d.maxWaitMs);
    return ctx && Number.isFinite(ctx.deadlineMs) ? Math.min(w, ctx.deadlineMs - Date.now() - REPLY_MARGIN_MS) : w;
  };
  const listAtts = async (r: ListAttachmentsRequest) => {
    // The container in any form attach takes (docker:, netns:, lxc:, pid:, a path), as detach finds it.
    const target = r.container ? parseTarget(r.container) : undefined;
    const all = await store.read((tx) => {
      knownFilters(tx, r);
      return tx.listAttachments({ ...(r.host ? { host: r.host } : {}), ...(r.network ? { net: r.network } : {}) });
    });
    return target ? all.filter((a) => isNamedBy(a, target)) : all;
  };

  const mesh = meshHandlers({ store, log, ...(d.mesh ? { mesh: d.mesh } : {}) });
  /** A wait the controller's stop ended, its change still pending: said as such (exit 3), and what becomes of it. */
  const notAtStop = (a: AttachmentRecord | undefined, verb: 'attach' | 'detach'): void => {
    if (!a || (a.state !== 'pending' && a.state !== 'detaching') || !dispatcher.isStopping()) return;
    throw new FleetnetError(
      'pending',
      `the controller is shutting down: the ${verb} of ${a.container?.name || a.target.value} on ${a.host} ` +
        'is recorded and still pending',
      { hint: `a controller of this fleet carries it out once one runs; follow it with: fleetnet ls --host ${a.host}` },
    );
  };
  /** One attach decision, its dispatch and its wait: FleetAttach, and each item of FleetAttachBatch. */
  const attachOne = async (r: FleetAttachRequest, ctx?: CallContext): Promise<FleetAttachReply> => {
    const input = attachInputFromProto(r);
    const dec = await store.transact((tx) => decideAttach(tx, input, now(), rand));
    if (dec.changed) dispatcher.kick(dec.attachment.host, { id: dec.attachment.id });
    // wait_ms 0 (a script, a burst of allocations): the record just committed is the answer.
    const wait = waitOf(r.waitMs, ctx);
    const a = wait > 0 ? ((await dispatcher.waitSettled(dec.attachment.id, wait)) ?? dec.attachment) : dec.attachment;
    if (wait > 0) notAtStop(a, 'attach');
    return { attachment: attachmentToProto(a), created: dec.created };
  };

  return {
    meshAdd: unary(log, 'MeshAdd', mesh.meshAdd),
    meshRemove: unary(log, 'MeshRemove', mesh.meshRemove),
    fleetMeshStatus: unary(log, 'FleetMeshStatus', mesh.fleetMeshStatus),
    controllerHealth: unary(log, 'ControllerHealth', async () => ({
      status: 'ok',
      version: d.version,
      uptimeMs: now() - d.startedAtMs,
      store: store.description,
    })),

    addHost: unary(log, 'AddHost', async (r: AddHostRequest) => {
      const { host, created } = await store.transact((tx) =>
        addHost(tx, { name: r.name, agentAddr: r.agentAddr, underlayIp: r.underlayIp }, now(), d.newHostName),
      );
      if (created) log.info({ host: host.name, addr: host.agentAddr }, 'host added');
      dispatcher.kick(host.name);
      return hostToProto(host);
    }),
    listHosts: unary(log, 'ListHosts', async () => {
      // Who owns which host is not worth failing the list for: without it the hosts show no controller.
      const owners = d.owners?.().catch((err: unknown) => {
        log.warn({ err: err instanceof Error ? err.message : String(err) }, 'cannot read the host owners');
        return undefined;
      });
      const [hosts, ownerOf] = await Promise.all([store.read((tx) => tx.listHosts()), owners]);
      return { hosts: hosts.map((h) => hostToProto(h, ownerOf?.get(h.name))) };
    }),
    removeHost: unary(log, 'RemoveHost', async (r: RemoveHostRequest) => {
      const { removed, peers } = await store.transact((tx) => ({
        removed: removeHost(tx, r.name, r.force),
        peers: leaveMeshes(tx, r.name),
      }));
      dispatcher.forget(r.name);
      log.info({ host: r.name, force: r.force, meshPeers: peers }, 'host removed');
      // Its tunnels go from the other members now, not at their next resync (the push retries on its own).
      if (peers.length) void d.mesh?.push(peers);
      return { removed };
    }),

    createNetwork: unary(log, 'CreateNetwork', async (r: CreateNetworkRequest) => {
      const { network, created } = await store.transact((tx) =>
        createNetwork(tx, networkInputFromProto(r.network), now()),
      );
      if (created) log.info({ net: network.name, subnets: network.subnets }, 'network created');
      return networkToProto(network, 0);
    }),
    listNetworks: unary(log, 'ListNetworks', async () => ({
      networks: await store.read((tx) =>
        tx.listNetworks().map((n) => networkToProto(n, tx.countAttachments({ net: n.name }))),
      ),
    })),
    removeNetwork: unary(log, 'RemoveNetwork', async (r: RemoveNetworkRequest) => {
      const members = await store.read((tx) => tx.getNetwork(r.name)?.mesh?.members ?? []);
      const removed = await store.transact((tx) => removeNetwork(tx, r.name));
      // Its tunnels go with it, as mesh rm's: each member's answer said (one not taken is retried on its own).
      const pushed = members.length && d.mesh ? await d.mesh.push(members) : [];
      return { removed, hosts: pushed.map((s) => networkResult(s, r.name)) };
    }),

    fleetAttach: unary(log, 'FleetAttach', attachOne),
    fleetAttachBatch: unary(log, 'FleetAttachBatch', async (r: FleetAttachBatchRequest, ctx) => {
      if (r.requests.length > MAX_BATCH)
        throw invalid(
          `a batch of ${r.requests.length} attaches is too large`,
          `send at most ${MAX_BATCH} per FleetAttachBatch`,
        );
      const items = await Promise.all(
        r.requests.map((one) =>
          attachOne(one, ctx).then(
            (reply): FleetAttachBatchItem => ({ reply, errorKind: '', error: '', hint: '' }),
            (err: unknown): FleetAttachBatchItem => {
              const e =
                err instanceof FleetnetError
                  ? err
                  : new FleetnetError('failed', err instanceof Error ? err.message : String(err));
              return { reply: undefined, errorKind: e.kind, error: e.message, hint: e.hint ?? '' };
            },
          ),
        ),
      );
      return { items };
    }),
    fleetDetach: unary(log, 'FleetDetach', async (r: FleetDetachRequest, ctx) => {
      const dec = await store.transact((tx) =>
        decideDetach(
          tx,
          r.attachmentId
            ? { id: r.attachmentId, ...(r.host ? { host: r.host } : {}) }
            : { host: r.host, target: targetFromProto(r.target), ifname: r.ifname },
          now(),
        ),
      );
      if (!dec.attachment) return { found: false, done: true, attachment: undefined };
      if (dec.gone) return { found: true, done: true, attachment: attachmentToProto(dec.attachment) };
      if (dec.changed) dispatcher.kick(dec.attachment.host, { id: dec.attachment.id });
      const wait = waitOf(r.waitMs, ctx);
      const a = wait > 0 ? await dispatcher.waitSettled(dec.attachment.id, wait) : dec.attachment;
      if (wait > 0) notAtStop(a, 'detach');
      return { found: true, done: !a, attachment: attachmentToProto(a ?? dec.attachment) };
    }),
    fleetCheck: unary(log, 'FleetCheck', async (r: { host: string; fix: boolean }) => ({
      findings: await fleetCheck({ store, dispatcher, log }, r.host, r.fix),
    })),
    listAttachments: unary(log, 'ListAttachments', async (r: ListAttachmentsRequest) => ({
      attachments: (await listAtts(r)).map(attachmentToProto),
    })),
    listAttachmentsJson: (call: ServerWritableStream<ListAttachmentsRequest, EncodedMessage>) => {
      const r = call.request;
      const filter = { ...(r.host ? { host: r.host } : {}), ...(r.network ? { net: r.network } : {}) };
      const text = r.container
        ? listAtts(r).then((atts) => JSON.stringify(atts.map(attachmentView)))
        : (r.host || r.network ? store.read((tx) => knownFilters(tx, r)) : Promise.resolve()).then(() =>
            store.attachmentsJson(filter),
          );
      text.then(
        (s) => {
          for (const c of jsonChunks(s)) call.write(c);
          call.end();
        },
        // the stream's status carries the error (as a unary reply's would): grpc-js sends an 'error' emitted on it
        (err: unknown) => void call.emit('error', toServiceError(err)),
      );
    },
  };
}

/** A list filtered by a host or network nobody registered is a typo, not an empty fleet: exit 2, naming it. */
function knownFilters(tx: Pick<Tx, 'getHost' | 'getNetwork'>, r: { host: string; network: string }): void {
  if (r.host && !tx.getHost(r.host)) throw noSuchHost(r.host);
  if (r.network && !tx.getNetwork(r.network)) throw noSuchNetwork(r.network);
}
