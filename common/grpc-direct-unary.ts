// Unary methods served straight on node:http2, in front of grpc-js on the same port: grpc-js's
// per-call machinery (interceptor chain, metadata objects, listener and responder objects, its
// stream decoder) was about a third of the controller's CPU per allocation; what a unary call
// needs is one message in, one message out, a status. Every other stream (server streams, server
// reflection, services whose handlers are not `unary`'s) goes on to grpc-js unchanged, which also
// keeps owning the port, TLS, sessions and shutdown.
// The same checks as grpc-js plus common/pki/authorize.ts: content type, one uncompressed message,
// the per-method authorization rule from the verified peer certificate (revocation, expiry, role),
// errors as grpc-js sends them (trailers-only, status, percent-encoded message, fleetnet-kind and
// fleetnet-hint-bin metadata). Not honoured: grpc-timeout (the client keeps its own deadline, and
// the controller's handlers bound their own waits).
import { Metadata, status, type Server, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Http2Server, IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { FleetnetError } from './errors.js';
import { toServiceError, type UnaryHandler } from './grpc-errors.js';
import { checkPeer, type AuthorizationOptions, type Rule } from './pki/authorize.js';

interface Direct {
  path: string;
  decode(b: Buffer): unknown;
  encode(v: unknown): Buffer;
  run(req: unknown): Promise<unknown>;
  rule: Rule | undefined;
}

type StreamListener = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, ...rest: unknown[]) => void;

const OK_HEADERS = { ':status': 200, 'content-type': 'application/grpc', 'grpc-accept-encoding': 'identity' };
const OK_TRAILERS = { 'grpc-status': '0' };

function refuse(stream: ServerHttp2Stream, code: status, details: string, metadata = new Metadata()): void {
  if (stream.destroyed || stream.closed || stream.headersSent) return;
  stream.respond({ ...OK_HEADERS, 'grpc-status': String(code), 'grpc-message': encodeURI(details), ...metadata.toHttp2Headers() }, { endStream: true, sendDate: false } as { endStream: boolean });
}

function fail(stream: ServerHttp2Stream, err: unknown): void {
  const st = toServiceError(err);
  refuse(stream, st.code ?? status.INTERNAL, st.details ?? 'failed', st.metadata);
}

function sendOkTrailers(this: ServerHttp2Stream): void {
  this.sendTrailers(OK_TRAILERS);
}

function reply(stream: ServerHttp2Stream, msg: Buffer): void {
  if (stream.destroyed || stream.closed) return;
  const frame = Buffer.allocUnsafe(5 + msg.length);
  frame[0] = 0;
  frame.writeUInt32BE(msg.length, 1);
  msg.copy(frame, 5);
  stream.respond(OK_HEADERS, { waitForTrailers: true, sendDate: false } as { waitForTrailers: boolean });
  stream.once('wantTrailers', sendOkTrailers);
  stream.end(frame);
}

/** The one message of a unary request body (5-byte prefix: compressed flag, length). */
function unframe(body: Buffer): Buffer {
  if (body.length < 5 || body.readUInt32BE(1) !== body.length - 5) throw new FleetnetError('invalid', 'a unary request carries exactly one gRPC message');
  if (body[0] !== 0) throw new FleetnetError('unsupported', 'compressed request messages are not supported');
  return body.subarray(5);
}

function peerCertificate(stream: ServerHttp2Stream) {
  const sock = stream.session?.socket;
  if (!(sock instanceof TLSSocket) || !sock.authorized) return undefined;
  const cert = sock.getPeerCertificate();
  return cert.raw ? cert : undefined;
}

function handle(stream: ServerHttp2Stream, m: Direct, auth: AuthorizationOptions | undefined, log: Logger): void {
  stream.once('error', () => {}); // as in grpc-js: the close that follows is all there is to do
  if (m.rule && m.rule.kind !== 'public') {
    try {
      checkPeer(m.rule, peerCertificate(stream), auth ?? {});
    } catch (err) {
      const e = err instanceof FleetnetError ? err : new FleetnetError('permission', String(err));
      log.warn({ method: m.path, peer: stream.session?.socket?.remoteAddress, err: e.message }, 'call refused');
      const st = toServiceError(e);
      return refuse(stream, e.message === 'no client certificate' ? status.UNAUTHENTICATED : status.PERMISSION_DENIED, e.message, st.metadata);
    }
  }
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.once('end', () => {
    let req: unknown;
    try {
      req = m.decode(unframe(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)));
    } catch (err) {
      return fail(stream, err instanceof FleetnetError ? err : new FleetnetError('invalid', `the request message cannot be read: ${String(err)}`));
    }
    let res: Promise<unknown>;
    try {
      res = m.run(req);
    } catch (err) {
      return fail(stream, err);
    }
    res.then((r) => reply(stream, m.encode(r)), (err: unknown) => fail(stream, err));
  });
}

export interface DirectUnaryOptions {
  log: Logger;
  /** The same rules the grpc-js server's authorization interceptor applies (mutual TLS); none: plain. */
  auth?: AuthorizationOptions;
}

/**
 * Call after `server.bindAsync` succeeded. Serves directly the unary methods of `services` whose
 * handlers `unary()` made (and, with `auth`, whose rule needs nothing from the message); returns
 * how many. 0 when this grpc-js keeps its HTTP/2 servers elsewhere: then grpc-js serves everything.
 */
export function serveUnaryDirect(server: Server, services: { def: ServiceDefinition; impl: UntypedServiceImplementation }[], o: DirectUnaryOptions): number {
  const direct = new Map<string, Direct>();
  for (const { def, impl } of services) {
    for (const [key, d] of Object.entries(def)) {
      const h = impl[key] as Partial<UnaryHandler<unknown, unknown>> | undefined;
      if (d.requestStream || d.responseStream || typeof h?.run !== 'function') continue;
      const rule = o.auth ? (o.auth.policy[d.path] ?? o.auth.defaultRule) : undefined;
      if (rule?.kind === 'host-self') continue; // needs the message: grpc-js's interceptor does it
      direct.set(d.path, { path: d.path, decode: d.requestDeserialize, encode: d.responseSerialize, run: h.run, rule });
    }
  }
  // grpc-js 1.x keeps its HTTP/2 servers in a private map; each has one 'stream' listener of its own.
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map) || direct.size === 0) {
    o.log.warn('serving every call through grpc-js (its HTTP/2 servers were not found)');
    return 0;
  }
  for (const h2 of servers.keys() as IterableIterator<Http2Server>) {
    const grpcJs = h2.listeners('stream') as StreamListener[];
    h2.removeAllListeners('stream');
    h2.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, ...rest: unknown[]) => {
      const m = direct.get(headers[':path'] ?? '');
      if (m && headers['content-type']?.startsWith('application/grpc')) return handle(stream, m, o.auth, o.log);
      for (const l of grpcJs) l.call(h2, stream, headers, ...rest);
    });
  }
  return direct.size;
}
