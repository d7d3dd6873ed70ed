// The CLI's own HTTP/2 client (cli/client/h2-conn.ts, cli/client/hpack.ts) against node's
// http2 server (nghttp2: Huffman strings, the dynamic table, flow control, CONTINUATION): every
// header and byte arrives as sent, on one connection with many streams, sequential and at once.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type ServerHttp2Stream } from 'node:http2';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { H2Connection } from '../../cli/client/h2-conn.js';
import { encodeHeaders, HpackDecoder, huffmanDecode } from '../../cli/client/hpack.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

test('HPACK: the RFC 7541 C.4 requests (Huffman, dynamic table across blocks)', () => {
  const d = new HpackDecoder();
  assert.deepEqual(d.decode(hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff')), [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']]);
  assert.deepEqual(d.decode(hex('8286 84be 5886 a8eb 1064 9cbf')), [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache']]);
  assert.deepEqual(d.decode(hex('8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf')),
    [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']]);
  assert.throws(() => huffmanDecode(hex('f1e3 c2e5 f23a 6ba0 ab90 f400')), /padding/, 'padding of zeros is refused');
  assert.throws(() => d.decode(hex('be be ff')), /index|integer/);
});

test('HPACK: what our encoder writes, our decoder (and node) read back', () => {
  const headers: [string, string][] = [[':method', 'POST'], [':path', '/fleetnet.v1.Agent/Attach'], ['te', 'trailers'], ['x-long', 'v'.repeat(300)]];
  assert.deepEqual(new HpackDecoder().decode(encodeHeaders(headers)), headers);
});

function payload(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

/** Header values over every byte node lets through (tab, printable ASCII, 0x80-0xff). */
const VALUE_CHARS = ['\t', ...Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)), ...Array.from({ length: 0x80 }, (_, i) => String.fromCharCode(0x80 + i))];
const valueFor = (i: number) => Array.from({ length: 5 + (i % 40) }, (_, k) => VALUE_CHARS[(i * 7 + k * 13) % VALUE_CHARS.length]!).join('').trim() || 'x';

test('H2Connection against node:http2: headers, trailers, big bodies both ways, 60 streams sequential and concurrent', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fn-h2-'));
  const sock = join(dir, 's.sock');
  const server = createServer({ settings: { headerTableSize: 4096 } });
  server.on('stream', (s: ServerHttp2Stream, h) => {
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => {
      if (h[':path'] === '/hang') return; // never answers: the client cancels
      const i = Number(h['x-i']);
      const body = Buffer.concat(chunks);
      s.respond({ ':status': 200, 'content-type': 'application/grpc', 'x-echo': String(h['x-v']), 'x-len': String(body.length), 'x-big': 'b'.repeat(20_000 + i) }, { waitForTrailers: true });
      s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0', 'x-trailer': valueFor(i + 1000) }));
      s.end(payload(Number(h['x-reply']), i));
    });
  });
  await new Promise<void>((r) => server.listen(sock, r));
  const socket = connect(sock);
  const conn = new H2Connection(socket);
  t.after(() => {
    conn.close();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const one = (i: number, sendBytes: number, replyBytes: number) => new Promise<void>((resolve, reject) => {
    const got: Record<string, string>[] = [];
    const data: Buffer[] = [];
    conn.request([[':method', 'POST'], [':scheme', 'http'], [':path', `/t/${i}`], [':authority', 'localhost'], ['x-i', String(i)], ['x-v', valueFor(i)], ['x-reply', String(replyBytes)]], payload(sendBytes, i + 1), {
      onHeaders: (h) => got.push(h),
      onData: (c) => data.push(Buffer.from(c)),
      onClose: (err, rst) => {
        try {
          assert.equal(err, undefined);
          assert.equal(rst, undefined);
          assert.equal(got.length, 2, 'headers and trailers');
          assert.equal(got[0]!['x-echo'], valueFor(i), `value ${i} came back`);
          assert.equal(got[0]!['x-len'], String(sendBytes));
          assert.equal(got[0]!['x-big'], 'b'.repeat(20_000 + i), 'a header block over CONTINUATION frames');
          assert.equal(got[1]!['x-trailer'], valueFor(i + 1000));
          assert.ok(Buffer.concat(data).equals(payload(replyBytes, i)), `reply ${i} arrived whole`);
          resolve();
        } catch (e) {
          reject(e);
        }
      },
    });
  });
  for (let i = 0; i < 30; i++) await one(i, i % 3 === 0 ? 200_000 : 50, i % 5 === 0 ? 3_000_000 : 10);
  await Promise.all(Array.from({ length: 30 }, (_, k) => one(30 + k, k % 4 === 0 ? 100_000 : 20, k % 6 === 0 ? 1_000_000 : 5)));
  // A cancelled stream ends with RST_STREAM CANCEL; the connection goes on serving others.
  const cancelled = new Promise<number | undefined>((resolve) => {
    const st = conn.request([[':method', 'POST'], [':scheme', 'http'], [':path', '/hang'], [':authority', 'localhost']], Buffer.alloc(5), { onHeaders: () => {}, onData: () => {}, onClose: (_e, rst) => resolve(rst) });
    setTimeout(() => st.cancel(), 50);
  });
  assert.equal(await cancelled, 8);
  await one(99, 10, 10);
  assert.equal(conn.usable, true);
});

test('H2Connection: a refused connection fails its streams and is not usable', async () => {
  const conn = new H2Connection(connect(join(tmpdir(), `fn-h2-nobody-${process.pid}.sock`)));
  const err = await new Promise<Error | undefined>((resolve) => conn.request([[':path', '/x']], Buffer.alloc(1), { onHeaders: () => {}, onData: () => {}, onClose: resolve }));
  assert.match(String(err), /ENOENT/);
  assert.equal(conn.usable, false);
});

test("H2Connection keeps to the peer's SETTINGS_MAX_CONCURRENT_STREAMS: more requests wait, a waiting one can be cancelled", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fn-h2-max-'));
  const sock = join(dir, 's.sock');
  let open = 0;
  let most = 0;
  const server = createServer({ settings: { maxConcurrentStreams: 2 } });
  server.on('stream', (s: ServerHttp2Stream) => {
    most = Math.max(most, ++open);
    s.on('close', () => open--);
    s.on('data', () => {});
    s.on('end', () => setTimeout(() => {
      s.respond({ ':status': 200 }, { waitForTrailers: true });
      s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }));
      s.end('ok');
    }, 20));
  });
  await new Promise<void>((r) => server.listen(sock, r));
  const conn = new H2Connection(connect(sock));
  t.after(() => {
    conn.close();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const req = () => {
    let status = '';
    let cancel = () => {};
    const done = new Promise<string>((resolve, reject) => {
      cancel = conn.request([[':method', 'POST'], [':scheme', 'http'], [':path', '/m'], [':authority', 'localhost']], Buffer.from('x'), {
        onHeaders: (h) => (status = h['grpc-status'] ?? status),
        onData: () => {},
        onClose: (err, rst) => (err ? reject(err) : resolve(rst === undefined ? status : `rst ${rst}`)),
      }).cancel;
    });
    return { done, cancel: () => cancel() };
  };
  await req().done; // the server's SETTINGS have arrived by now
  const many = Array.from({ length: 10 }, req);
  many[9]!.cancel(); // still waiting: ends at once, never reaches the server
  assert.deepEqual(await Promise.all(many.map((r) => r.done)), [...Array(9).fill('0'), `rst 8`]);
  assert.equal(most, 2, 'never more than 2 streams open at the server');
});
