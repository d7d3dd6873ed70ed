// The client side of one HTTP/2 connection (RFC 9113) over a socket that is already made (unix,
// TCP or TLS), for the CLI's gRPC calls (cli/client/grpc-lite.ts). Why not node:http2: loading it
// (with tls, crypto and its compatibility layer) costs every new CLI process ~5-8 ms, more than
// the rest of a local attach's client side. What a gRPC client needs and no more: requests with a
// body, any number of concurrent streams, both directions of flow control, SETTINGS, PING, GOAWAY,
// RST_STREAM, padding and CONTINUATION; no server push (refused in our SETTINGS), no priorities.
import type { Socket } from 'node:net';
import { encodeHeaders, HpackDecoder } from './hpack.js';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const DATA = 0;
const HEADERS = 1;
const RST_STREAM = 3;
const SETTINGS = 4;
const PUSH_PROMISE = 5;
const PING = 6;
const GOAWAY = 7;
const WINDOW_UPDATE = 8;
const CONTINUATION = 9;
const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;
const SETTINGS_ENABLE_PUSH = 0x2;
const SETTINGS_MAX_CONCURRENT_STREAMS = 0x3;
const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
const SETTINGS_MAX_FRAME_SIZE = 0x5;
export const RST_CANCEL = 0x8;
/** Our receive windows (stream and connection): the largest allowed, topped up past half of it. */
const MAX_WINDOW = 2 ** 31 - 1;
const DEFAULT_WINDOW = 65_535;
/** Frames larger than this are refused (the protocol's default limit is 16 KB; we never raise it). */
const MAX_FRAME = 16_384;

export interface StreamHandlers {
  /** A header block on the stream (response headers, then trailers), names lower case. */
  onHeaders(headers: Record<string, string>): void;
  onData(chunk: Buffer): void;
  /** Once: the stream ended (err undefined), was reset by the peer (rstCode), or the connection failed (err). */
  onClose(err?: Error, rstCode?: number): void;
}

interface Stream {
  id: number;
  h: StreamHandlers;
  sendWindow: number;
  /** Request body not sent yet (flow control); END_STREAM goes with its last byte. */
  out: Buffer;
  endSent: boolean;
  recvUnacked: number;
}

function frame(type: number, flags: number, id: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  const f = Buffer.alloc(9 + payload.length);
  f.writeUIntBE(payload.length, 0, 3);
  f[3] = type;
  f[4] = flags;
  f.writeUInt32BE(id, 5);
  f.set(payload, 9);
  return f;
}

const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
};

export class H2Connection {
  private readonly streams = new Map<number, Stream>();
  private readonly decoder = new HpackDecoder();
  private inbox: Buffer = Buffer.alloc(0);
  private nextId = 1;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxFrame = 16_384;
  /** Unlimited until the peer's SETTINGS say otherwise (RFC 9113 6.5.2). */
  private peerMaxStreams = Infinity;
  private readonly queue: { open(): Stream; h: StreamHandlers; stream: Stream | undefined }[] = [];
  private connSendWindow = DEFAULT_WINDOW;
  private connRecvUnacked = 0;
  private goneAway = false;
  private failed: Error | undefined;
  /** A header block still waiting for its CONTINUATION frames. */
  private partial: { id: number; endStream: boolean; parts: Buffer[] } | undefined;

  constructor(private readonly socket: Socket) {
    const settings = Buffer.alloc(12);
    settings.writeUInt16BE(SETTINGS_ENABLE_PUSH, 0);
    settings.writeUInt32BE(0, 2);
    settings.writeUInt16BE(SETTINGS_INITIAL_WINDOW_SIZE, 6);
    settings.writeUInt32BE(MAX_WINDOW, 8);
    socket.write(Buffer.concat([PREFACE, frame(SETTINGS, 0, 0, settings), frame(WINDOW_UPDATE, 0, 0, u32(MAX_WINDOW - DEFAULT_WINDOW))]));
    socket.on('data', (c: Buffer) => this.onBytes(c));
    socket.on('error', (e) => this.fail(e));
    socket.on('close', () => this.fail(new Error('the connection was closed')));
  }

  /** False once the connection failed, was closed, or the peer said GOAWAY: make a new one. */
  get usable(): boolean {
    return !this.failed && !this.goneAway && this.nextId < MAX_WINDOW;
  }

  /** Opens a stream: HEADERS, then the body as DATA (END_STREAM on its last frame). */
  request(headers: readonly (readonly [string, string])[], body: Buffer, h: StreamHandlers): { cancel(): void } {
    if (this.failed) throw this.failed;
    if (!this.usable) throw new Error('the connection is going away');
    // Beyond the peer's SETTINGS_MAX_CONCURRENT_STREAMS a stream waits for one to end (a stream
    // id is taken only when its HEADERS go out: ids must rise in the order streams open).
    const waiting = { open: () => this.open(headers, body, h), h, stream: undefined as Stream | undefined };
    if (this.streams.size >= this.peerMaxStreams) this.queue.push(waiting);
    else waiting.stream = waiting.open();
    return {
      cancel: () => {
        const s = waiting.stream;
        if (!s) {
          const i = this.queue.indexOf(waiting);
          if (i >= 0) {
            this.queue.splice(i, 1);
            h.onClose(undefined, RST_CANCEL);
          }
          return;
        }
        if (!this.streams.has(s.id)) return;
        if (!this.failed) this.socket.write(frame(RST_STREAM, 0, s.id, u32(RST_CANCEL)));
        this.finish(s, undefined, RST_CANCEL);
      },
    };
  }

  private open(headers: readonly (readonly [string, string])[], body: Buffer, h: StreamHandlers): Stream {
    const id = this.nextId;
    this.nextId += 2;
    const s: Stream = { id, h, sendWindow: this.peerInitialWindow, out: body, endSent: false, recvUnacked: 0 };
    this.streams.set(id, s);
    const block = encodeHeaders(headers);
    const parts: Buffer[] = [];
    for (let off = 0; off < block.length || off === 0; off += this.peerMaxFrame) {
      const piece = block.subarray(off, off + this.peerMaxFrame);
      const last = off + this.peerMaxFrame >= block.length;
      parts.push(frame(off === 0 ? HEADERS : CONTINUATION, last ? END_HEADERS : 0, id, piece));
    }
    this.socket.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
    this.flush(s);
    return s;
  }

  /** Ends the connection now (a CLI process is done with it); open streams fail. */
  close(): void {
    this.fail(new Error('the connection was closed by this client'));
  }

  private flush(s: Stream): void {
    while (!s.endSent && this.streams.has(s.id)) {
      const n = Math.min(s.out.length, this.peerMaxFrame, s.sendWindow, this.connSendWindow);
      if (n <= 0 && s.out.length > 0) return; // wait for WINDOW_UPDATE
      const last = n === s.out.length;
      this.socket.write(frame(DATA, last ? END_STREAM : 0, s.id, s.out.subarray(0, n)));
      s.out = s.out.subarray(n);
      s.sendWindow -= n;
      this.connSendWindow -= n;
      s.endSent = last;
    }
  }

  private finish(s: Stream, err?: Error, rstCode?: number): void {
    if (!this.streams.delete(s.id)) return;
    s.h.onClose(err, rstCode);
    this.openWaiting();
  }

  private openWaiting(): void {
    while (!this.failed && this.usable && this.queue.length && this.streams.size < this.peerMaxStreams) {
      const w = this.queue.shift()!;
      w.stream = w.open();
    }
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = err;
    const open = [...this.streams.values()];
    for (const s of open) this.finish(s, err);
    for (const w of this.queue.splice(0)) w.h.onClose(err);
    this.socket.destroy();
  }

  private onBytes(chunk: Buffer): void {
    this.inbox = this.inbox.length ? Buffer.concat([this.inbox, chunk]) : chunk;
    let pos = 0;
    try {
      while (!this.failed && this.inbox.length - pos >= 9) {
        const len = this.inbox.readUIntBE(pos, 3);
        if (len > MAX_FRAME) throw new Error(`the peer sent a ${len}-byte frame (limit ${MAX_FRAME})`);
        if (this.inbox.length - pos < 9 + len) break;
        const type = this.inbox[pos + 3]!;
        const flags = this.inbox[pos + 4]!;
        const id = this.inbox.readUInt32BE(pos + 5) & 0x7fffffff;
        const payload = this.inbox.subarray(pos + 9, pos + 9 + len);
        pos += 9 + len;
        this.onFrame(type, flags, id, payload);
      }
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    this.inbox = pos === this.inbox.length ? Buffer.alloc(0) : this.inbox.subarray(pos);
  }

  private onFrame(type: number, flags: number, id: number, p: Buffer): void {
    if (this.partial && type !== CONTINUATION) throw new Error('a header block was interrupted');
    switch (type) {
      case DATA: return this.onData(flags, id, p);
      case HEADERS: {
        let body = flags & PADDED ? p.subarray(1, p.length - p[0]!) : p;
        if (flags & PRIORITY) body = body.subarray(5);
        this.partial = { id, endStream: (flags & END_STREAM) !== 0, parts: [body] };
        if (flags & END_HEADERS) this.endHeaders();
        return;
      }
      case CONTINUATION:
        if (!this.partial || this.partial.id !== id) throw new Error('CONTINUATION without its HEADERS');
        this.partial.parts.push(p);
        if (flags & END_HEADERS) this.endHeaders();
        return;
      case RST_STREAM: {
        const s = this.streams.get(id);
        if (s) this.finish(s, undefined, p.readUInt32BE(0));
        return;
      }
      case SETTINGS:
        if (!(flags & ACK)) this.onSettings(p);
        return;
      case PING:
        if (!(flags & ACK)) this.socket.write(frame(PING, ACK, 0, p));
        return;
      case GOAWAY: {
        this.goneAway = true;
        const last = p.readUInt32BE(0) & 0x7fffffff;
        const gone = new Error(`the peer is going away (GOAWAY, error ${p.readUInt32BE(4)})`);
        for (const s of [...this.streams.values()]) if (s.id > last) this.finish(s, gone);
        for (const w of this.queue.splice(0)) w.h.onClose(gone);
        return;
      }
      case WINDOW_UPDATE: {
        const inc = p.readUInt32BE(0) & 0x7fffffff;
        if (id === 0) {
          this.connSendWindow += inc;
          for (const s of [...this.streams.values()]) this.flush(s);
        } else {
          const s = this.streams.get(id);
          if (s) {
            s.sendWindow += inc;
            this.flush(s);
          }
        }
        return;
      }
      case PUSH_PROMISE:
        throw new Error('the peer pushed a stream, which this client refused');
      default:
        return; // PRIORITY and unknown frame types are ignored (RFC 9113 5.5)
    }
  }

  private onData(flags: number, id: number, p: Buffer): void {
    // Flow control counts the whole payload, padding included.
    this.connRecvUnacked += p.length;
    if (this.connRecvUnacked > MAX_WINDOW / 2) {
      this.socket.write(frame(WINDOW_UPDATE, 0, 0, u32(this.connRecvUnacked)));
      this.connRecvUnacked = 0;
    }
    const s = this.streams.get(id);
    if (!s) return; // a stream we cancelled
    s.recvUnacked += p.length;
    if (s.recvUnacked > MAX_WINDOW / 2 && !(flags & END_STREAM)) {
      this.socket.write(frame(WINDOW_UPDATE, 0, id, u32(s.recvUnacked)));
      s.recvUnacked = 0;
    }
    const body = flags & PADDED ? p.subarray(1, p.length - p[0]!) : p;
    if (body.length) s.h.onData(body);
    if (flags & END_STREAM) this.finish(s);
  }

  private endHeaders(): void {
    const { id, endStream, parts } = this.partial!;
    this.partial = undefined;
    // Decoded even for a stream we no longer track: the HPACK table is shared by the connection.
    const list = this.decoder.decode(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
    const s = this.streams.get(id);
    if (!s) return;
    const headers: Record<string, string> = {};
    for (const [n, v] of list) if (!(n in headers)) headers[n] = v;
    s.h.onHeaders(headers);
    if (endStream) this.finish(s);
  }

  private onSettings(p: Buffer): void {
    for (let i = 0; i + 6 <= p.length; i += 6) {
      const key = p.readUInt16BE(i);
      const v = p.readUInt32BE(i + 2);
      if (key === SETTINGS_INITIAL_WINDOW_SIZE) {
        for (const s of this.streams.values()) s.sendWindow += v - this.peerInitialWindow;
        this.peerInitialWindow = v;
      } else if (key === SETTINGS_MAX_FRAME_SIZE) this.peerMaxFrame = v;
      else if (key === SETTINGS_MAX_CONCURRENT_STREAMS) this.peerMaxStreams = v;
    }
    this.socket.write(frame(SETTINGS, ACK, 0));
    for (const s of [...this.streams.values()]) this.flush(s);
    this.openWaiting();
  }
}
