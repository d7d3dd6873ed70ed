// The CLI's connection to the controller: promises with deadlines, typed errors. Imported lazily.
// It uses the small HTTP/2 gRPC client (grpc-lite) and the messages-only generated code, so a CLI
// process talking to the controller never loads @grpc/grpc-js.
import { FleetnetError } from '../../common/errors.js';
import * as pb from '../../proto/gen/messages/fleetnet/v1/controller.js';
import { CheckReply } from '../../proto/gen/messages/fleetnet/v1/agent.js';
import { requireController } from './controller-address.js';
import { CONTROLLER_NAME } from '../../common/pki/identity.js';
import { tryCliCredential } from './controller-credential.js';
import { GrpcLite, method, type Method } from './grpc-lite.js';

const svc = '/fleetnet.v1.Controller/';
/** Every unary Controller RPC; test/unit/controller-methods.test.ts checks this against the service definition. */
export const CONTROLLER_METHODS = {
  controllerHealth: method(`${svc}ControllerHealth`, pb.ControllerHealthRequest, pb.ControllerHealthReply),
  addHost: method(`${svc}AddHost`, pb.AddHostRequest, pb.Host),
  listHosts: method(`${svc}ListHosts`, pb.ListHostsRequest, pb.ListHostsReply),
  removeHost: method(`${svc}RemoveHost`, pb.RemoveHostRequest, pb.RemoveHostReply),
  createNetwork: method(`${svc}CreateNetwork`, pb.CreateNetworkRequest, pb.Network),
  listNetworks: method(`${svc}ListNetworks`, pb.ListNetworksRequest, pb.ListNetworksReply),
  removeNetwork: method(`${svc}RemoveNetwork`, pb.RemoveNetworkRequest, pb.RemoveNetworkReply),
  fleetAttach: method(`${svc}FleetAttach`, pb.FleetAttachRequest, pb.FleetAttachReply),
  fleetAttachBatch: method(`${svc}FleetAttachBatch`, pb.FleetAttachBatchRequest, pb.FleetAttachBatchReply),
  fleetDetach: method(`${svc}FleetDetach`, pb.FleetDetachRequest, pb.FleetDetachReply),
  listAttachments: method(`${svc}ListAttachments`, pb.ListAttachmentsRequest, pb.ListAttachmentsReply),
  meshAdd: method(`${svc}MeshAdd`, pb.MeshMemberRequest, pb.MeshMemberReply),
  meshRemove: method(`${svc}MeshRemove`, pb.MeshMemberRequest, pb.MeshMemberReply),
  fleetMeshStatus: method(`${svc}FleetMeshStatus`, pb.FleetMeshStatusRequest, pb.FleetMeshStatusReply),
  fleetCheck: method(`${svc}FleetCheck`, pb.FleetCheckRequest, CheckReply),
};
/** The server stream of `ls --json` text (JsonChunk messages). */
export const LIST_ATTACHMENTS_JSON = method(`${svc}ListAttachmentsJson`, pb.ListAttachmentsRequest, pb.JsonChunk);

export interface ControllerConn {
  client: typeof CONTROLLER_METHODS;
  addr: string;
  call<Req, Res>(m: Method<Req, Res>, req: Req, timeoutMs?: number): Promise<Res>;
  /** Writes `ls --json` text to `out` as it arrives, chunk by chunk, without decoding it. */
  streamJson(req: pb.ListAttachmentsRequest, out: NodeJS.WritableStream, timeoutMs?: number): Promise<void>;
  close(): void;
}

/**
 * The `data` bytes of one JsonChunk message (field 1, length-delimited: tag 0x0a, varint length),
 * as a view into the message: no protobuf decode, no copy of the text.
 */
export function jsonChunkData(msg: Buffer): Buffer {
  if (msg.length === 0) return msg; // an empty chunk: proto3 leaves the field out
  if (msg[0] !== 0x0a) return pb.JsonChunk.decode(msg).data;
  let len = 0;
  let shift = 0;
  let i = 1;
  for (; i < msg.length && i < 6; i++) {
    const b = msg[i]!;
    len += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (b < 0x80) break;
  }
  const start = i + 1;
  return start + len === msg.length ? msg.subarray(start, start + len) : pb.JsonChunk.decode(msg).data;
}

export function connectController(addr: string): ControllerConn {
  const unavailable = (cause: unknown) =>
    new FleetnetError('unavailable', `no controller answers at ${addr}`, {
      cause, hint: 'start one (fleetnet controller run), fix --controller / FLEETNET_CONTROLLER, or use --local for this host\'s agent',
    });
  // trust (issue 7): mutual TLS with the CLI credential when there is one (FLEETNET_INSECURE=1: plain TCP).
  const cred = process.env.FLEETNET_INSECURE === '1' ? undefined : tryCliCredential();
  const lite = new GrpcLite(addr, `the controller at ${addr}`, {
    unavailable,
    ...(cred ? { tls: { ...cred, serverName: CONTROLLER_NAME } } : {}),
    // A plain UNAVAILABLE status (no fleetnet kind: the controller's own refusals carry one) means nobody is there.
    mapError: (e) => (e.kind === 'unavailable' && !(e as { cause?: { metadata?: { get(k: string): unknown[] } } }).cause?.metadata?.get('fleetnet-kind').length ? unavailable(e.cause) : e),
  });
  return {
    client: CONTROLLER_METHODS,
    addr,
    call: (m, req, timeoutMs = 30_000) => lite.unary(m, req, timeoutMs),
    streamJson: (req, out, timeoutMs = 60_000) => lite.stream(LIST_ATTACHMENTS_JSON, req, timeoutMs, (msg) => out.write(jsonChunkData(msg))),
    close: () => lite.close(),
  };
}

/** Runs fn with a connection to the configured controller, closed afterwards. */
export async function withController<T>(g: { controller?: string; local?: boolean }, what: string, fn: (conn: ControllerConn) => Promise<T>): Promise<T> {
  const conn = connectController(requireController(g, what).addr);
  try {
    return await fn(conn);
  } finally {
    conn.close();
  }
}
