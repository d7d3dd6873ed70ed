// The CLI's connection to the controller(s): promises with deadlines, typed errors, failover to
// the next controller named (cli/client/grpc-h2.ts says when a call may move on). Imported lazily.
// It runs on node:http2: a CLI process talking to the controller never loads @grpc/grpc-js.
import { FleetnetError } from '../../common/errors.js';
import { GrpcStatus } from '../../common/rpc/status.js';
import {
  ControllerDefinition,
  JsonChunk,
  type ListAttachmentsRequest,
} from '../../proto/gen/fleetnet/v1/controller.js';
import { requireController, type GlobalChoice } from './controller-address.js';
import { CONTROLLER_NAME } from '../../common/pki/identity.js';
import { cliCredentialFiles, CREDENTIAL_HINT, tryCliCredential } from './controller-credential.js';
import { GrpcH2Client, methodsOf, type Method } from './grpc-h2.js';

/**
 * Every Controller RPC, from the generated definition. These may be sent to another controller when
 * the one that had them went silent: the reads, and fleetAttach, which names its attachment by host,
 * container and interface (or its id), so the same attach sent twice is applied once.
 */
export const CONTROLLER_METHODS = methodsOf(ControllerDefinition, [
  'controllerHealth',
  'listHosts',
  'listNetworks',
  'listAttachments',
  'listAttachmentsJson',
  'fleetMeshStatus',
  'watchEvents',
  'agentVersions',
  'fleetAttach',
]);

/** The server stream of `ls --json` text (JsonChunk messages). */
export const LIST_ATTACHMENTS_JSON = CONTROLLER_METHODS.listAttachmentsJson;

export interface ControllerConn {
  client: typeof CONTROLLER_METHODS;
  addr: string;
  call<Req, Res>(m: Method<Req, Res>, req: Req, timeoutMs?: number): Promise<Res>;
  /** Writes `ls --json` text to `out` as it arrives, chunk by chunk, without decoding it. */
  streamJson(req: ListAttachmentsRequest, out: NodeJS.WritableStream, timeoutMs?: number): Promise<void>;
  /** A server stream: each message decoded and given to onMessage as it arrives. */
  stream<Req, Res>(m: Method<Req, Res>, req: Req, timeoutMs: number, onMessage: (res: Res) => void): Promise<void>;
  close(): void;
}

/**
 * The `data` bytes of one JsonChunk message (field 1, length-delimited: tag 0x0a, varint length),
 * as a view into the message: no protobuf decode, no copy of the text.
 */
export function jsonChunkData(msg: Buffer): Buffer {
  if (msg.length === 0) return msg; // an empty chunk: proto3 leaves the field out
  if (msg[0] !== 0x0a) return JsonChunk.decode(msg).data;
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
  return start + len === msg.length ? msg.subarray(start, start + len) : JsonChunk.decode(msg).data;
}

/** addr: one controller's address, or several comma-separated (tried in order). */
export function connectController(addr: string): ControllerConn {
  const addrs = addr.split(',');
  // trust (issue 7): mutual TLS with the CLI credential when there is one (FLEETNET_INSECURE=1: plain TCP).
  const insecure = process.env.FLEETNET_INSECURE === '1';
  const cred = insecure ? undefined : tryCliCredential();
  const unavailable = (cause: unknown, reached = false) => {
    // Something listens but did not speak plain gRPC: a controller with mutual TLS, and no credential here.
    if (reached && !cred && !insecure) {
      const lookedFor = cliCredentialFiles()
        .map((p) => p.cert)
        .join(', ');
      return new FleetnetError(
        'permission',
        `the controller at ${addr} requires a client certificate (mutual TLS), and this CLI ` +
          `has none (looked for ${lookedFor})`,
        { cause, hint: CREDENTIAL_HINT },
      );
    }
    // The last failure's own words (refused, reset, timed out): the one clue to why nobody answered.
    const last = cause instanceof Error ? `: ${cause.message}` : '';
    return new FleetnetError('unavailable', `no controller answers at ${addr}${last}`, {
      cause,
      hint:
        'start one (fleetnet controller run), fix --controller / FLEETNET_CONTROLLER, ' +
        "or use --local for this host's agent",
    });
  };
  const rpc = new GrpcH2Client(addrs, addrs.length > 1 ? 'the controllers' : `the controller at ${addr}`, {
    unavailable,
    ...(cred ? { tls: { ...cred, serverName: CONTROLLER_NAME } } : {}),
    // A plain UNAVAILABLE status (no fleetnet kind: the controller's own refusals carry one) means nobody is there;
    // a plain DEADLINE_EXCEEDED keeps its own words (a controller that took too long is there).
    mapError: (e) => {
      const c = e.cause as { code?: number; metadata?: { get(k: string): unknown[] } } | undefined;
      const plain = c?.code === GrpcStatus.UNAVAILABLE && !c.metadata?.get('fleetnet-kind').length;
      return e.kind === 'unavailable' && plain ? unavailable(e.cause) : e;
    },
  });
  return {
    client: CONTROLLER_METHODS,
    addr,
    call: (m, req, timeoutMs = 30_000) => rpc.unary(m, req, timeoutMs),
    streamJson: (req, out, timeoutMs = 60_000) =>
      rpc.stream(LIST_ATTACHMENTS_JSON, req, timeoutMs, (msg) => out.write(jsonChunkData(msg))),
    stream: (m, req, timeoutMs, onMessage) => rpc.stream(m, req, timeoutMs, (msg) => onMessage(m.decode(msg))),
    close: () => rpc.close(),
  };
}

/** Runs fn with a connection to the configured controller, closed afterwards. */
export async function withController<T>(
  g: GlobalChoice,
  what: string,
  fn: (conn: ControllerConn) => Promise<T>,
): Promise<T> {
  const conn = connectController((await requireController(g, what)).addr);
  try {
    return await fn(conn);
  } finally {
    conn.close();
  }
}
