// A load generator's gRPC client, written for the least CPU per call (as h2load or ghz are, in C
// and Go): unary calls as hand-made HTTP/2 frames on one TCP connection, many streams in flight,
// the frames of a turn of the event loop sent in one write. The request header block is the same
// for every call (HPACK literals and static-table names, no dynamic table), so it is built once.
// A call succeeds when its stream ends (END_STREAM on the trailers) after exactly one reply
// message; a failed gRPC call has no message (the controller answers errors trailers-only), so
// the trailers are not HPACK-decoded. Callers check the reply itself (bench/lib/alloc-client.ts).
// Not for production: no TLS, no header decoding, no CONTINUATION of our own headers.
import { connect, type Socket } from 'node:net';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const T = {
  DATA: 0,
  HEADERS: 1,
  RST_STREAM: 3,
  SETTINGS: 4,
  PING: 6,
  GOAWAY: 7,
  WINDOW_UPDATE: 8,
  CONTINUATION: 9,
} as const;
const F = { END_STREAM: 1, ACK: 1, END_HEADERS: 4, PADDED: 8, PRIORITY: 0x20 } as const;
const SETTINGS_MAX_CONCURRENT_STREAMS = 3;
const SETTINGS_INITIAL_WINDOW_SIZE = 4;
const BIG_WINDOW = 0x7fffffff;

function frameHeader(len: number, type: number, flags: number, stream: number): Buffer {
  const b = Buffer.allocUnsafe(9);
  b.writeUIntBE(len, 0, 3);
  b[3] = type;
  b[4] = flags;
  b.writeUInt32BE(stream, 5);
  return b;
}

/** An HPACK string literal, not Huffman-coded (lengths below 127). */
function str(s: string): Buffer {
  const v = Buffer.from(s);
  if (v.length >= 127) throw new Error('header too long for this encoder');
  return Buffer.concat([Buffer.from([v.length]), v]);
}

/** The header block of a gRPC POST to `path` (no dynamic table: the same bytes every time). */
function headerBlock(path: string, authority: string): Buffer {
  return Buffer.concat([
    Buffer.from([0x83]), // :method POST (static 3)
    Buffer.from([0x86]), // :scheme http (static 6)
    Buffer.from([0x04]),
    str(path), // :path, literal without indexing, name static 4
    Buffer.from([0x01]),
    str(authority), // :authority, name static 1
    Buffer.from([0x0f, 0x10]),
    str('application/grpc'), // content-type, name static 31
    Buffer.from([0x00]),
    str('te'),
    str('trailers'),
  ]);
}

interface Call {
  reply: Buffer | undefined;
  resolve(reply: Buffer): void;
  reject(err: Error): void;
}

export class H2LoadClient {
  private readonly sock: Socket;
  private readonly calls = new Map<number, Call>();
  private nextId = 1;
  private out: Buffer[] = [];
  private flushQueued = false;
  private inbuf: Buffer = Buffer.alloc(0);
  private sendWindow = 65_535;
  private consumed = 0;
  private failed: Error | undefined;
  private readonly blocks = new Map<string, Buffer>();
  /** Calls waiting for connection-level send window or for a free stream. */
  private waiting: (() => void)[] = [];
  private maxStreams = Number.MAX_SAFE_INTEGER;
  readonly ready: Promise<void>;

  constructor(private readonly addr: string) {
    const i = addr.lastIndexOf(':');
    this.sock = connect({ host: addr.slice(0, i), port: Number(addr.slice(i + 1)), noDelay: true });
    const settings = Buffer.alloc(12);
    settings.writeUInt16BE(SETTINGS_INITIAL_WINDOW_SIZE, 0);
    settings.writeUInt32BE(BIG_WINDOW, 2);
    settings.writeUInt16BE(2 /* ENABLE_PUSH */, 6);
    settings.writeUInt32BE(0, 8);
    const wu = Buffer.alloc(4);
    wu.writeUInt32BE(BIG_WINDOW - 65_535);
    this.sock.write(
      Buffer.concat([PREFACE, frameHeader(12, T.SETTINGS, 0, 0), settings, frameHeader(4, T.WINDOW_UPDATE, 0, 0), wu]),
    );
    this.sock.on('data', (d: Buffer) => this.onData(d));
    this.sock.on('error', (err) => this.fail(err));
    this.sock.on('close', () => this.fail(new Error(`connection to ${addr} closed`)));
    this.ready = new Promise((resolve, reject) => {
      this.sock.once('connect', () => resolve());
      this.sock.once('error', reject);
    });
  }

  /** One unary call: the request message's bytes in, the reply message's bytes out. */
  unary(path: string, message: Uint8Array): Promise<Buffer> {
    if (this.failed) return Promise.reject(this.failed);
    const need = 5 + message.length;
    if (this.sendWindow < need || this.calls.size >= this.maxStreams) {
      return new Promise<void>((r) => this.waiting.push(r)).then(() => this.unary(path, message));
    }
    this.sendWindow -= need;
    const id = this.nextId;
    this.nextId += 2;
    let block = this.blocks.get(path);
    if (!block) this.blocks.set(path, (block = headerBlock(path, this.addr)));
    const data = Buffer.allocUnsafe(5 + message.length);
    data[0] = 0;
    data.writeUInt32BE(message.length, 1);
    data.set(message, 5);
    this.out.push(
      frameHeader(block.length, T.HEADERS, F.END_HEADERS, id),
      block,
      frameHeader(data.length, T.DATA, F.END_STREAM, id),
      data,
    );
    this.scheduleFlush();
    return new Promise((resolve, reject) => this.calls.set(id, { reply: undefined, resolve, reject }));
  }

  private scheduleFlush(): void {
    if (this.flushQueued) return;
    this.flushQueued = true;
    setImmediate(() => {
      this.flushQueued = false;
      const bufs = this.out;
      this.out = [];
      if (bufs.length) this.sock.write(Buffer.concat(bufs));
    });
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = [];
    for (const r of w) r();
  }

  private onData(d: Buffer): void {
    let buf = this.inbuf.length ? Buffer.concat([this.inbuf, d]) : d;
    let off = 0;
    while (buf.length - off >= 9) {
      const len = buf.readUIntBE(off, 3);
      if (buf.length - off < 9 + len) break;
      const type = buf[off + 3]!;
      const flags = buf[off + 4]!;
      const stream = buf.readUInt32BE(off + 5) & 0x7fffffff;
      this.onFrame(type, flags, stream, buf.subarray(off + 9, off + 9 + len));
      off += 9 + len;
    }
    this.inbuf = off === buf.length ? Buffer.alloc(0) : Buffer.from(buf.subarray(off));
    if (this.consumed > 1 << 20) {
      const wu = Buffer.alloc(4);
      wu.writeUInt32BE(this.consumed);
      this.consumed = 0;
      this.out.push(frameHeader(4, T.WINDOW_UPDATE, 0, 0), wu);
      this.scheduleFlush();
    }
  }

  private onFrame(type: number, flags: number, stream: number, p: Buffer): void {
    switch (type) {
      case T.DATA: {
        this.consumed += p.length;
        const c = this.calls.get(stream);
        if (!c) return;
        const body = flags & F.PADDED ? p.subarray(1, p.length - p[0]!) : p;
        // One unary reply: a 5-byte prefix and the message, in one or more DATA frames.
        c.reply = c.reply ? Buffer.concat([c.reply, body]) : Buffer.from(body);
        if (flags & F.END_STREAM) this.end(stream);
        return;
      }
      case T.HEADERS:
      case T.CONTINUATION:
        if (flags & F.END_STREAM) this.end(stream);
        return;
      case T.RST_STREAM: {
        const c = this.calls.get(stream);
        this.calls.delete(stream);
        c?.reject(new Error(`stream reset by the server (code ${p.readUInt32BE(0)})`));
        this.wake();
        return;
      }
      case T.SETTINGS:
        if (flags & F.ACK) return;
        for (let i = 0; i + 6 <= p.length; i += 6) {
          if (p.readUInt16BE(i) === SETTINGS_MAX_CONCURRENT_STREAMS) this.maxStreams = p.readUInt32BE(i + 2);
        }
        this.out.push(frameHeader(0, T.SETTINGS, F.ACK, 0));
        this.scheduleFlush();
        return;
      case T.PING:
        if (!(flags & F.ACK)) {
          this.out.push(frameHeader(8, T.PING, F.ACK, 0), Buffer.from(p));
          this.scheduleFlush();
        }
        return;
      case T.WINDOW_UPDATE:
        if (stream === 0) {
          this.sendWindow += p.readUInt32BE(0) & 0x7fffffff;
          this.wake();
        }
        return;
      case T.GOAWAY:
        this.fail(new Error(`the server sent GOAWAY (code ${p.readUInt32BE(4)})`));
        return;
    }
  }

  private end(stream: number): void {
    const c = this.calls.get(stream);
    if (!c) return;
    this.calls.delete(stream);
    const r = c.reply;
    if (r && r.length >= 5 && r[0] === 0 && r.readUInt32BE(1) === r.length - 5) c.resolve(r.subarray(5));
    else c.reject(new Error(r ? 'a malformed reply message' : 'the call failed (trailers only, no reply message)'));
    this.wake();
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = err;
    for (const c of this.calls.values()) c.reject(err);
    this.calls.clear();
    this.wake();
  }

  close(): void {
    this.failed ??= new Error('closed');
    this.sock.destroy();
  }
}
