// A minimal gRPC client on node:http2, for the CLI's short-lived processes: loading @grpc/grpc-js
// costs more than a whole attach on a local agent. It speaks gRPC's wire format (length-prefixed
// protobuf, status and metadata in trailers) over a unix socket or plain TCP: unary calls, and
// server streams handed over message by message as raw bytes (so a caller can pass big payloads
// on without decoding them). The transport is made in one place (`connection()`): that is where
// TLS (node:http2 connect('https://…', {ca, cert, key})) goes.
import { connect, constants, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { FleetnetError } from '../../common/errors.js';
import { fromServiceError } from '../../common/grpc-status.js';

export interface Method<Req, Res> {
  path: string;
  encode(req: Req): Uint8Array;
  decode(bytes: Uint8Array): Res;
}

export function method<Req, Res>(
  path: string,
  req: { encode(m: Req): { finish(): Uint8Array } },
  res: { decode(b: Uint8Array): Res },
): Method<Req, Res> {
  return { path, encode: (m) => req.encode(m).finish(), decode: (b) => res.decode(b) };
}

/** grpc-js's ServiceError shape, so that one mapping (common/grpc-status.ts) serves both clients. */
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

/** Splits an HTTP/2 DATA stream into gRPC messages (5-byte prefix: compressed flag, length). */
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

export interface GrpcLiteOptions {
  /** The error for "nobody answers" (connection refused, reset, no socket), by who the peer is. */
  unavailable?: (cause: unknown) => FleetnetError;
  /** Rewrites a failed call's error (e.g. a plain UNAVAILABLE status into a hint for this peer). */
  mapError?: (e: FleetnetError) => FleetnetError;
  /** Mutual TLS: our CA, our certificate and key, and the name the peer's certificate must carry. */
  tls?: { caPem: string; certPem: string; keyPem: string; serverName: string };
}

/** Large HTTP/2 windows: `ls --json` of a big fleet streams tens of MB at once. */
const WINDOW_BYTES = 32 << 20;

export class GrpcLite {
  private session: ClientHttp2Session | undefined;
  private readonly unixPath: string | undefined;
  private readonly unavailable: (cause: unknown) => FleetnetError;

  /** addr: `unix:///path/to.sock`, `unix:/path`, or `host:port`. */
  constructor(readonly addr: string, private readonly peer: string, private readonly opts: GrpcLiteOptions = {}) {
    this.unixPath = addr.startsWith('unix:') ? addr.slice('unix:'.length).replace(/^\/\/(?=\/)/, '') : undefined;
    this.unavailable = opts.unavailable ?? ((cause) =>
      new FleetnetError('unavailable', `no agent answers at ${this.peer}`, { cause, hint: 'start one with: fleetnet agent run   (or point --socket at a running agent)' }));
  }

  /** One HTTP/2 connection, made on first use and made again after it failed (an agent starting up). */
  private connection(): ClientHttp2Session {
    if (this.session && !this.session.destroyed && !this.session.closed) return this.session;
    const path = this.unixPath;
    const settings = { initialWindowSize: WINDOW_BYTES };
    const tls = this.opts.tls;
    const s = path
      ? connect('http://localhost', { settings, createConnection: () => netConnect(path) })
      : tls
        ? connect(`https://${this.addr}`, { settings, ca: tls.caPem, cert: tls.certPem, key: tls.keyPem, servername: tls.serverName, ALPNProtocols: ['h2'] })
        : connect(`http://${this.addr}`, { settings });
    s.once('connect', () => s.setLocalWindowSize(WINDOW_BYTES));
    s.on('error', () => {
      if (this.session === s) this.session = undefined;
    });
    this.session = s;
    return s;
  }

  /** One call: a request message, then every reply message handed to onMessage, until the status. */
  private call(path: string, body: Uint8Array, timeoutMs: number, onMessage: (msg: Buffer) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      const frame = Buffer.alloc(5 + body.length);
      frame.writeUInt32BE(body.length, 1);
      frame.set(body, 5);
      let stream;
      try {
        stream = this.connection().request({
          ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': `${timeoutMs}m`,
        });
      } catch (err) {
        return reject(this.unavailable(err));
      }
      let failed: FleetnetError | undefined;
      const fail = (e: FleetnetError) => {
        failed ??= e;
        stream.close(constants.NGHTTP2_CANCEL);
      };
      const timer = setTimeout(() => fail(new FleetnetError('unavailable', `${this.peer} did not answer within ${timeoutMs} ms`)), timeoutMs);
      let headers: IncomingHttpHeaders = {};
      let trailers: IncomingHttpHeaders = {};
      const reader = new FrameReader(onMessage);
      stream.on('response', (h) => (headers = h));
      stream.on('trailers', (t) => (trailers = t));
      stream.on('data', (c: Buffer) => {
        if (failed) return;
        try {
          reader.push(c);
        } catch (err) {
          fail(new FleetnetError('failed', `${this.peer} sent a reply fleetnet cannot read`, { cause: err }));
        }
      });
      stream.on('error', (err) => fail(this.unavailable(err)));
      stream.on('close', () => {
        clearTimeout(timer);
        if (failed) return reject(failed);
        const md = { ...headers, ...trailers };
        const statusText = md['grpc-status'];
        if (statusText === undefined) return reject(this.unavailable(new Error(`HTTP/2 stream closed without a gRPC status (${stream.rstCode})`)));
        const code = Number(statusText);
        if (code !== 0) {
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

  async unary<Req, Res>(m: Method<Req, Res>, req: Req, timeoutMs: number): Promise<Res> {
    let reply: Buffer | undefined;
    await this.call(m.path, m.encode(req), timeoutMs, (msg) => (reply = msg));
    if (reply === undefined) throw new FleetnetError('failed', `${this.peer} sent no reply message`);
    return m.decode(reply);
  }

  /** A server stream; each message's raw protobuf bytes go to onMessage as they arrive. */
  stream<Req>(m: Pick<Method<Req, unknown>, 'path' | 'encode'>, req: Req, timeoutMs: number, onMessage: (msg: Buffer) => void): Promise<void> {
    return this.call(m.path, m.encode(req), timeoutMs, onMessage);
  }

  close(): void {
    this.session?.close();
    this.session = undefined;
  }
}
