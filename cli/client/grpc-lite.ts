// A minimal gRPC unary client on node:http2, for the CLI's short-lived processes: loading
// @grpc/grpc-js costs more than a whole attach on a local agent. It speaks gRPC's wire format
// (length-prefixed protobuf, status and metadata in trailers) over a unix socket or plain TCP;
// TLS connections (controller <-> agent) use grpc-js.
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

/** grpc-js's ServiceError shape, so that one mapping (common/grpc-errors.ts) serves both clients. */
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

export class GrpcLite {
  private session: ClientHttp2Session | undefined;
  private readonly unixPath: string | undefined;

  /** addr: `unix:///path/to.sock` or `host:port`. */
  constructor(readonly addr: string, private readonly peer: string) {
    this.unixPath = addr.startsWith('unix://') ? addr.slice('unix://'.length) : undefined;
  }

  /** One HTTP/2 connection, made on first use and made again after it failed (an agent starting up). */
  private connection(): ClientHttp2Session {
    if (this.session && !this.session.destroyed && !this.session.closed) return this.session;
    const path = this.unixPath;
    const s = path ? connect('http://localhost', { createConnection: () => netConnect(path) }) : connect(`http://${this.addr}`);
    s.on('error', () => {
      if (this.session === s) this.session = undefined;
    });
    this.session = s;
    return s;
  }

  unary<Req, Res>(m: Method<Req, Res>, req: Req, timeoutMs: number): Promise<Res> {
    return new Promise((resolve, reject) => {
      const body = m.encode(req);
      const frame = Buffer.alloc(5 + body.length);
      frame.writeUInt32BE(body.length, 1);
      frame.set(body, 5);
      const unavailable = (cause: unknown) =>
        new FleetnetError('unavailable', `no agent answers at ${this.peer}`, { cause, hint: 'start one with: fleetnet agent run   (or point --socket at a running agent)' });
      let stream;
      try {
        stream = this.connection().request({
          ':method': 'POST', ':path': m.path, 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': `${timeoutMs}m`,
        });
      } catch (err) {
        return reject(unavailable(err));
      }
      const timer = setTimeout(() => {
        stream.close(constants.NGHTTP2_CANCEL);
        reject(new FleetnetError('unavailable', `${this.peer} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      let headers: IncomingHttpHeaders = {};
      let trailers: IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      stream.on('response', (h) => (headers = h));
      stream.on('trailers', (t) => (trailers = t));
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', (err) => {
        clearTimeout(timer);
        reject(unavailable(err));
      });
      stream.on('close', () => {
        clearTimeout(timer);
        const md = { ...headers, ...trailers };
        const statusText = md['grpc-status'];
        if (statusText === undefined) return reject(unavailable(new Error(`HTTP/2 stream closed without a gRPC status (${stream.rstCode})`)));
        const code = Number(statusText);
        if (code !== 0) {
          const details = decodeURIComponent(String(md['grpc-message'] ?? ''));
          return reject(fromServiceError(serviceError(code, details, md), this.peer));
        }
        const data = Buffer.concat(chunks);
        if (data.length < 5 || data[0] !== 0) return reject(new FleetnetError('failed', `${this.peer} sent a reply fleetnet cannot read`));
        resolve(m.decode(data.subarray(5, 5 + data.readUInt32BE(1))));
      });
      stream.end(frame);
    });
  }

  close(): void {
    this.session?.close();
    this.session = undefined;
  }
}
