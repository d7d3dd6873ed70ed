// The CLI's connection to the controller(s): promises with deadlines, typed errors, failover to
// the next controller named (cli/client/grpc-h2.ts says when a call may move on). Imported lazily.
// It runs on node:http2: a CLI process talking to the controller never loads @grpc/grpc-js.
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { FleetnetError } from '../../common/errors.js';
import { GrpcStatus } from '../../common/rpc/status.js';
import { notTlsWords, tlsFailure, TlsHandshakeError } from '../../common/rpc/tls-failure.js';
import { ControllerDefinition, type ListAttachmentsRequest } from '../../proto/gen/fleetnet/v1/controller.js';
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
 * The `data` bytes of one JsonChunk message, read with protobuf's own BinaryReader, as a view into
 * the message: the generated decoder would copy the text (up to 1 MiB a chunk) once more.
 */
export function jsonChunkData(msg: Buffer): Buffer {
  const reader = new BinaryReader(msg);
  let data = msg.subarray(0, 0); // an empty chunk: proto3 leaves the field out
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field !== 1 || wireType !== WireType.LengthDelimited) {
      reader.skip(wireType);
      continue;
    }
    const bytes = reader.bytes();
    data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  return data;
}

/** addr: one controller's address, or several comma-separated (tried in order). */
export function connectController(addr: string): ControllerConn {
  const addrs = addr.split(',');
  // trust (issue 7): mutual TLS with the CLI credential when there is one (FLEETNET_INSECURE=1: plain TCP).
  const insecure = process.env.FLEETNET_INSECURE === '1';
  const cred = insecure ? undefined : tryCliCredential();
  const unavailable = (cause: unknown, reached = false) => {
    // Something listens but did not speak plain gRPC: a controller with mutual TLS, and plain TCP asked for.
    if (reached && insecure) {
      const have = tryCliCredential() !== undefined;
      return new FleetnetError(
        'permission',
        `the controller at ${addr} wants TLS and a client certificate (mutual TLS), and FLEETNET_INSECURE=1 ` +
          'has this CLI talk plain TCP',
        {
          cause,
          hint: have
            ? 'unset FLEETNET_INSECURE: the CLI then presents the credential it has'
            : `unset FLEETNET_INSECURE and give the CLI a credential: ${CREDENTIAL_HINT}`,
        },
      );
    }
    // ... and no credential here.
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
    // A controller that answered with a certificate this CLI's CA did not sign (another fleet's credential).
    const tls = cred && cause instanceof Error ? tlsFailure(cause.message) : undefined;
    if (tls?.kind === 'ca')
      return new TlsHandshakeError(tls, `the controller at ${addr}`, {
        cause,
        hint: `this CLI's credential is for another fleet (or CA): ${CREDENTIAL_HINT}`,
      });
    // A peer that answered the TLS hello with bytes that are not TLS: a controller without a CA serves plain TCP.
    const plain = cred && cause instanceof Error ? notTlsWords(cause.message) : undefined;
    if (plain && !/disconnected/i.test(plain))
      return new FleetnetError(
        'permission',
        `something answers at ${addr}, but not with TLS (${plain}): a controller without a CA serves plain TCP, ` +
          "where this CLI's credential is of no use",
        {
          cause,
          hint:
            'FLEETNET_INSECURE=1 talks plain TCP to it; or give it a CA (fleetnet controller init) and restart it; ' +
            'or check --controller / FLEETNET_CONTROLLER',
        },
      );
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
