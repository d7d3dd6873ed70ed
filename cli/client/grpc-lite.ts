// A minimal gRPC client for the CLI's short-lived processes: loading @grpc/grpc-js costs more
// than a whole attach on a local agent, and loading node:http2 a good part of one. It speaks
// gRPC's wire format (length-prefixed protobuf, status and metadata in trailers) over its own
// small HTTP/2 connection (./h2-conn.ts) on a unix socket, plain TCP or TLS: unary calls, and
// server streams handed over message by message as raw bytes (so a caller can pass big payloads
// on without decoding them). The transport is made in one place (`connection()`); node:tls is
// loaded only when a call needs TLS.
import { connect as netConnect, type Socket } from 'node:net';
import { FleetnetError } from '../../common/errors.js';
import { fromServiceError } from '../../common/rpc/status.js';
import { H2Connection } from './h2-conn.js';

type Metadata = Record<string, string | string[] | undefined>;

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
function serviceError(code: number, details: string, md: Metadata) {
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

/** `host:port` or `[v6]:port` → its parts (the port defaults as a URL's would). */
export function hostPort(addr: string, tls: boolean): { host: string; port: number } {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(addr) ?? /^([^:]*)(?::(\d+))?$/.exec(addr);
  if (!m) return { host: addr, port: tls ? 443 : 80 };
  return { host: m[1]!, port: m[2] ? Number(m[2]) : tls ? 443 : 80 };
}

export class GrpcLite {
  private conn: Promise<H2Connection> | undefined;
  private live: H2Connection | undefined;
  private readonly unixPath: string | undefined;
  private readonly unavailable: (cause: unknown) => FleetnetError;

  /** addr: `unix:///path/to.sock`, `unix:/path`, or `host:port`. */
  constructor(readonly addr: string, private readonly peer: string, private readonly opts: GrpcLiteOptions = {}) {
    this.unixPath = addr.startsWith('unix:') ? addr.slice('unix:'.length).replace(/^\/\/(?=\/)/, '') : undefined;
    this.unavailable = opts.unavailable ?? ((cause) =>
      new FleetnetError('unavailable', `no agent answers at ${this.peer}`, { cause, hint: 'start one with: fleetnet agent run   (or point --socket at a running agent)' }));
  }

  /** One HTTP/2 connection, made on first use and made again after it failed (an agent starting up). */
  private connection(): Promise<H2Connection> {
    if (this.conn && (!this.live || this.live.usable)) return this.conn;
    this.live = undefined;
    this.conn = this.socket().then((sock) => (this.live = new H2Connection(sock)));
    return this.conn;
  }

  private async socket(): Promise<Socket> {
    if (this.unixPath) return netConnect(this.unixPath).setNoDelay(true);
    const tls = this.opts.tls;
    const { host, port } = hostPort(this.addr, Boolean(tls));
    if (!tls) return netConnect({ host, port }).setNoDelay(true);
    const { connect: tlsConnect } = await import('node:tls');
    return tlsConnect({ host, port, ca: tls.caPem, cert: tls.certPem, key: tls.keyPem, servername: tls.serverName, ALPNProtocols: ['h2'] }).setNoDelay(true);
  }

  private authority(): string {
    return this.unixPath ? 'localhost' : this.addr;
  }

  /** One call: a request message, then every reply message handed to onMessage, until the status. */
  private async call(path: string, body: Uint8Array, timeoutMs: number, onMessage: (msg: Buffer) => void): Promise<void> {
    let conn: H2Connection;
    try {
      conn = await this.connection();
    } catch (err) {
      this.conn = undefined;
      throw this.unavailable(err);
    }
    return new Promise((resolve, reject) => {
      const frame = Buffer.alloc(5 + body.length);
      frame.writeUInt32BE(body.length, 1);
      frame.set(body, 5);
      let failed: FleetnetError | undefined;
      let stream: { cancel(): void } | undefined;
      const fail = (e: FleetnetError) => {
        failed ??= e;
        stream?.cancel();
      };
      const timer = setTimeout(() => fail(new FleetnetError('unavailable', `${this.peer} did not answer within ${timeoutMs} ms`)), timeoutMs);
      // Response headers, then trailers: one map, trailers last (a trailers-only reply is one block).
      const md: Metadata = {};
      const reader = new FrameReader(onMessage);
      const headers: [string, string][] = [
        [':method', 'POST'], [':scheme', this.opts.tls ? 'https' : 'http'], [':path', path], [':authority', this.authority()],
        ['content-type', 'application/grpc'], ['te', 'trailers'], ['grpc-timeout', `${timeoutMs}m`],
      ];
      const onClose = (err?: Error, rstCode?: number) => {
        clearTimeout(timer);
        if (failed) return reject(failed);
        if (err) return reject(this.unavailable(err));
        const statusText = md['grpc-status'];
        if (statusText === undefined) return reject(this.unavailable(new Error(`HTTP/2 stream closed without a gRPC status (${rstCode ?? 0})`)));
        const code = Number(statusText);
        if (code !== 0) {
          const details = decodeURIComponent(String(md['grpc-message'] ?? ''));
          const e = fromServiceError(serviceError(code, details, md), this.peer);
          return reject(this.opts.mapError ? this.opts.mapError(e) : e);
        }
        if (reader.pending !== 0) return reject(new FleetnetError('failed', `${this.peer} sent a truncated reply`));
        resolve();
      };
      try {
        stream = conn.request(headers, frame, {
          onHeaders: (h) => Object.assign(md, h),
          onData: (c) => {
            if (failed) return;
            try {
              reader.push(c);
            } catch (err) {
              fail(new FleetnetError('failed', `${this.peer} sent a reply fleetnet cannot read`, { cause: err }));
            }
          },
          onClose,
        });
      } catch (err) {
        clearTimeout(timer);
        reject(this.unavailable(err));
      }
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

  /** Ends the connection at once (the CLI is done with it): nothing waits for the peer to hang up. */
  close(): void {
    this.live?.close();
    void this.conn?.then((c) => c.close(), () => undefined);
    this.conn = undefined;
    this.live = undefined;
  }
}
