// The CLI's gRPC client on Node's own HTTP/2 (node:http2, loaded only when a command makes its
// first call): unary calls and server streams, gRPC's message framing and status trailers, on a
// unix socket, plain TCP or mutual TLS. Several addresses (controllers): the first that accepts a
// connection is used; when one stops answering, a call moves on to the next only if sending it
// twice is harmless (a read, or a request that carries a request id). Why not grpc-js here:
// loading it costs every CLI process several times what node:http2 does (bench/README.md floors).
import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders, IncomingHttpStatusHeader } from 'node:http2';
import { FleetnetError } from '../../common/errors.js';
import { fromServiceError, GrpcStatus } from '../../common/rpc/status.js';
import { methodPath, type GenericService, type ReqOf, type ResOf } from '../../common/rpc/definitions.js';

export interface Method<Req, Res> {
  path: string;
  encode(req: Req): Uint8Array;
  decode(bytes: Uint8Array): Res;
  /** Harmless to send twice (a read): may move on to another address after it may have been sent. */
  idempotent: boolean;
}

export type MethodsOf<D extends GenericService> = {
  [K in keyof D['methods']]: Method<ReqOf<D['methods'][K]>, ResOf<D['methods'][K]>>;
};

/** The client's methods of a generated service definition; `idempotent` names the reads. */
export function methodsOf<D extends GenericService>(d: D, idempotent: readonly (keyof D['methods'])[]): MethodsOf<D> {
  const out: Record<string, Method<unknown, unknown>> = {};
  for (const [key, m] of Object.entries(d.methods)) {
    const req = m.requestType as unknown as { encode(v: unknown): { finish(): Uint8Array } };
    out[key] = {
      path: methodPath(d, m),
      encode: (v) => req.encode(v).finish(),
      decode: (b) => m.responseType.decode(b),
      idempotent: idempotent.includes(key),
    };
  }
  return out as MethodsOf<D>;
}

/** Splits a stream of DATA chunks into gRPC messages (5-byte prefix: compressed flag, length). */
export class FrameReader {
  private chunks: Buffer[] = [];
  private have = 0;

  constructor(private readonly onMessage: (msg: Buffer) => void) {}

  push(c: Buffer): void {
    this.chunks.push(c);
    this.have += c.length;
    for (;;) {
      if (this.have < 5) return;
      const head = this.chunks[0]!.length >= 5 ? this.chunks[0]! : this.flatten();
      if (head[0] !== 0) throw new Error('compressed gRPC message (fleetnet never asks for compression)');
      const len = head.readUInt32BE(1);
      if (this.have < 5 + len) return;
      const all = this.chunks.length === 1 ? this.chunks[0]! : this.flatten();
      this.onMessage(all.subarray(5, 5 + len));
      const rest = all.subarray(5 + len);
      this.chunks = rest.length ? [rest] : [];
      this.have = rest.length;
    }
  }

  get pending(): number {
    return this.have;
  }

  private flatten(): Buffer {
    const b = Buffer.concat(this.chunks, this.have);
    this.chunks = [b];
    return b;
  }
}

/** grpc-js's ServiceError shape, so that one mapping (common/rpc/status.ts) serves every client. */
function serviceError(code: number, details: string, md: IncomingHttpHeaders) {
  return {
    code,
    details,
    message: details,
    metadata: {
      get(key: string): (string | Buffer)[] {
        const v = md[key];
        if (v === undefined) return [];
        const s = Array.isArray(v) ? v[0]! : v;
        return [key.endsWith('-bin') ? Buffer.from(s, 'base64') : s];
      },
    },
  };
}

/** `host:port` or `[v6]:port` → its parts (the port defaults as a URL's would). */
export function hostPort(addr: string, tls: boolean): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(addr) ?? /^([^:]*)(?::(\d+))?$/.exec(addr);
  if (!m) return { host: addr, port: tls ? 443 : 80 };
  return { host: m[1]!, port: m[2] ? Number(m[2]) : tls ? 443 : 80 };
}

export interface GrpcH2Options {
  /**
   * The error for "nobody answers" at any address (refused, reset, no socket); `reached`: a connection was made
   * but what listens there never spoke HTTP/2 on it (e.g. a TLS-only listener). A peer that spoke and then went
   * away (killed mid-call) is not `reached`: it is simply gone.
   */
  unavailable?: (cause: unknown, reached: boolean) => FleetnetError;
  /** Rewrites a failed call's error (e.g. a plain UNAVAILABLE status into a hint for this peer). */
  mapError?: (e: FleetnetError) => FleetnetError;
  /** Mutual TLS: our CA, our certificate and key, and the name the peer's certificate must carry. */
  tls?: { caPem: string; certPem: string; keyPem: string; serverName: string };
  /** Longest wait for one address to accept a connection before the next is tried. */
  connectTimeoutMs?: number;
}

/** A failure of the transport (no gRPC status): the call may or may not have reached the peer. */
class TransportError extends Error {
  constructor(
    message: string,
    readonly sent: boolean,
    cause?: unknown,
  ) {
    super(message, { cause });
  }
}

const hasRequestId = (req: unknown): boolean =>
  typeof (req as { requestId?: unknown } | null)?.requestId === 'string' &&
  (req as { requestId: string }).requestId !== '';

/** What this client may be sent before it acknowledges (per stream and for the connection) and in one frame. */
const RECEIVE_WINDOW = 32 << 20;
const RECEIVE_SETTINGS = { initialWindowSize: RECEIVE_WINDOW, maxFrameSize: (1 << 24) - 1 };

export class GrpcH2Client {
  private live: { i: number; session: ClientHttp2Session } | undefined;
  /** A connection attempt in flight, starting at address `from`. */
  private connecting: { from: number; attempt: Promise<{ i: number; session: ClientHttp2Session }> } | undefined;
  /** Whether any address accepted a connection (something listens there). */
  private reached = false;
  /** Whether a peer sent its HTTP/2 settings (it speaks plain gRPC). */
  private spoke = false;
  private readonly unavailable: (cause: unknown, reached: boolean) => FleetnetError;

  /** addrs: `unix:///path/to.sock`, `unix:/path`, or `host:port`, in the order to try them. */
  constructor(
    readonly addrs: readonly string[],
    private readonly peer: string,
    private readonly opts: GrpcH2Options = {},
  ) {
    if (addrs.length === 0) throw new FleetnetError('invalid', `no address for ${peer}`);
    this.unavailable =
      opts.unavailable ??
      ((cause) =>
        new FleetnetError('unavailable', `no agent answers at ${this.peer}`, {
          cause,
          hint: 'start one with: fleetnet agent run   (or point --socket at a running agent)',
        }));
  }

  /** One HTTP/2 session to address i: resolves once connected (TLS verified), rejects if it cannot be. */
  private open(i: number, timeoutMs: number): Promise<ClientHttp2Session> {
    const http2 = process.getBuiltinModule('node:http2');
    const addr = this.addrs[i]!;
    const tls = this.opts.tls;
    let session: ClientHttp2Session;
    const settings = { settings: RECEIVE_SETTINGS };
    if (addr.startsWith('unix:')) {
      const path = addr.slice('unix:'.length).replace(/^\/\/(?=\/)/, '');
      const net = process.getBuiltinModule('node:net');
      session = http2.connect('http://localhost', { ...settings, createConnection: () => net.connect(path) });
    } else if (tls) {
      const { host, port } = hostPort(addr, true);
      session = http2.connect(`https://${addr}`, {
        ...settings,
        host,
        port,
        ca: tls.caPem,
        cert: tls.certPem,
        key: tls.keyPem,
        servername: tls.serverName,
      });
    } else {
      session = http2.connect(`http://${addr}`, settings);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`no connection within ${timeoutMs} ms`)), timeoutMs);
      const fail = (err: unknown) => {
        clearTimeout(timer);
        session.destroy();
        reject(err);
      };
      session.once('remoteSettings', () => (this.spoke = true));
      session.once('error', fail);
      session.once('connect', () => {
        clearTimeout(timer);
        // A session the peer (or a reset) ended in the same turn is already destroyed here: a failed
        // connection attempt like any other, never an exception thrown out of the event.
        if (session.destroyed) return fail(new Error('the connection closed as it opened'));
        session.setLocalWindowSize(RECEIVE_WINDOW);
        session.off('error', fail);
        session.on('error', () => {}); // each stream reports what it lost
        // The connection alone never keeps a CLI process alive (a command that forgets close() still
        // exits); a call in flight does, through its deadline timer.
        session.unref();
        this.reached = true;
        resolve(session);
      });
    });
  }

  /**
   * The live session, or a new one: from the address in use, then each next one in turn. Calls made together
   * before any connection exists (ls asks for its list and the host's name at once) share one attempt: one
   * connection, not one each.
   */
  private session(from: number, deadline: number): Promise<{ i: number; session: ClientHttp2Session }> {
    if (this.live && !this.live.session.closed && !this.live.session.destroyed) return Promise.resolve(this.live);
    if (this.connecting?.from === from) return this.connecting.attempt;
    const attempt = this.connect(from, deadline).finally(() => {
      if (this.connecting?.attempt === attempt) this.connecting = undefined;
    });
    this.connecting = { from, attempt };
    return attempt;
  }

  private async connect(from: number, deadline: number): Promise<{ i: number; session: ClientHttp2Session }> {
    let last: unknown;
    for (let k = from; k < this.addrs.length; k++) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      try {
        this.live = { i: k, session: await this.open(k, Math.min(left, this.opts.connectTimeoutMs ?? 5000)) };
        return this.live;
      } catch (err) {
        last = err;
      }
    }
    throw new TransportError(`no connection to ${this.addrs.join(', ')}`, false, last);
  }

  /** One call on one session: request message, reply messages to onMessage, then the status. */
  private once(
    session: ClientHttp2Session,
    path: string,
    body: Uint8Array,
    deadline: number,
    onMessage: (msg: Buffer) => void,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const timeoutMs = Math.max(1, deadline - Date.now());
      const frame = Buffer.allocUnsafe(5 + body.length);
      frame[0] = 0;
      frame.writeUInt32BE(body.length, 1);
      frame.set(body, 5);
      let failed: FleetnetError | TransportError | undefined;
      let stream: ClientHttp2Stream;
      try {
        stream = session.request({
          ':method': 'POST',
          ':path': path,
          'content-type': 'application/grpc',
          te: 'trailers',
          'grpc-timeout': `${timeoutMs}m`,
        });
      } catch (err) {
        return reject(new TransportError('the connection is gone', false, err));
      }
      const fail = (e: FleetnetError) => {
        failed ??= e;
        stream.close(process.getBuiltinModule('node:http2').constants.NGHTTP2_CANCEL);
      };
      const timer = setTimeout(
        () => fail(new FleetnetError('unavailable', `${this.peer} did not answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const md: IncomingHttpHeaders = {};
      const reader = new FrameReader(onMessage);
      stream.on('response', (h: IncomingHttpHeaders & IncomingHttpStatusHeader) => Object.assign(md, h));
      stream.on('trailers', (h: IncomingHttpHeaders) => Object.assign(md, h));
      stream.on('data', (c: Buffer) => {
        if (failed) return;
        try {
          reader.push(c);
        } catch (err) {
          fail(new FleetnetError('failed', `${this.peer} sent a reply fleetnet cannot read`, { cause: err }));
        }
      });
      stream.on('error', (err) => (failed ??= new TransportError(`the stream failed: ${err.message}`, true, err)));
      stream.on('close', () => {
        clearTimeout(timer);
        if (failed) return reject(failed);
        const statusText = md['grpc-status'];
        if (statusText === undefined) {
          // REFUSED_STREAM: the peer did not process it (a server going away): safe to send elsewhere
          const refused = stream.rstCode === process.getBuiltinModule('node:http2').constants.NGHTTP2_REFUSED_STREAM;
          return reject(
            new TransportError(`HTTP/2 stream closed without a gRPC status (${stream.rstCode ?? 0})`, !refused),
          );
        }
        const code = Number(statusText);
        if (code !== GrpcStatus.OK) {
          const details = decodeURIComponent(String(md['grpc-message'] ?? ''));
          const e = fromServiceError(serviceError(code, details, md), this.peer);
          return reject(this.opts.mapError ? this.opts.mapError(e) : e);
        }
        if (reader.pending !== 0) return reject(new FleetnetError('failed', `${this.peer} sent a truncated reply`));
        resolve();
      });
      stream.end(frame);
    });
  }

  /**
   * A call with failover: the next address after a connection failure, or after any transport failure when resending is
   * harmless.
   */
  /**
   * `unary`: the reply is used only once the call ended, so a reply message that arrived from a peer
   * that then died (no status) is dropped and the call resent like any other when resending is harmless;
   * a stream's messages are already out, so it is resent only when none had arrived.
   */
  private async call(
    m: Pick<Method<unknown, unknown>, 'path' | 'idempotent'>,
    req: unknown,
    body: Uint8Array,
    timeoutMs: number,
    onMessage: (msg: Buffer) => void,
    unary = false,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const resend = m.idempotent || hasRequestId(req);
    let got = 0;
    const count = (msg: Buffer) => {
      got++;
      onMessage(msg);
    };
    for (let from = this.live?.i ?? 0; ;) {
      let s: { i: number; session: ClientHttp2Session };
      try {
        s = await this.session(from, deadline);
      } catch (err) {
        throw this.unavailable(err instanceof TransportError ? (err.cause ?? err) : err, this.reached && !this.spoke);
      }
      try {
        return await this.once(s.session, m.path, body, deadline, count);
      } catch (err) {
        if (!(err instanceof TransportError)) throw err;
        this.drop();
        const harmless = !err.sent || (resend && (unary || got === 0));
        const last = s.i + 1 >= this.addrs.length;
        // (a peer that never spoke HTTP/2 — TLS it wanted, a certificate it refused — got nothing to carry out)
        if (err.sent && this.spoke && !m.idempotent && (!harmless || last)) throw this.lost(err);
        if (!harmless || last) throw this.unavailable(err.cause ?? err, this.reached && !this.spoke);
        from = s.i + 1;
      }
    }
  }

  async unary<Req, Res>(m: Method<Req, Res>, req: Req, timeoutMs: number): Promise<Res> {
    let reply: Buffer | undefined;
    await this.call(m as Method<unknown, unknown>, req, m.encode(req), timeoutMs, (msg) => (reply = msg), true);
    if (reply === undefined) throw new FleetnetError('failed', `${this.peer} sent no reply message`);
    return m.decode(reply);
  }

  /** A server stream; each message's raw protobuf bytes go to onMessage as they arrive. */
  stream<Req>(
    m: Pick<Method<Req, unknown>, 'path' | 'encode' | 'idempotent'>,
    req: Req,
    timeoutMs: number,
    onMessage: (msg: Buffer) => void,
  ): Promise<void> {
    return this.call(m as Method<unknown, unknown>, req, m.encode(req), timeoutMs, onMessage);
  }

  /** A change that reached the peer, which went away before it answered: done or not, nobody can say here. */
  private lost(err: TransportError): FleetnetError {
    return new FleetnetError('unavailable', `the connection to ${this.peer} was lost during the call`, {
      cause: err.cause ?? err,
      hint:
        'it may or may not have been carried out: look (fleetnet ls, hosts, nets) before running it again; ' +
        'an attach or detach sent twice is applied once',
    });
  }

  private drop(): void {
    this.live?.session.destroy();
    this.live = undefined;
  }

  /** Ends the connection at once (the CLI is done with it): nothing waits for the peer to hang up. */
  close(): void {
    this.drop();
  }
}
