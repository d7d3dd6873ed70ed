// Plain node:http2 servers that speak just enough gRPC for the CLI client's tests (grpc-h2*.test.ts).
import { createServer, type ServerHttp2Stream } from 'node:http2';
import { join } from 'node:path';

/** One gRPC message on the wire: uncompressed flag, 4-byte length, body. */
export function frame(body: Buffer): Buffer {
  const b = Buffer.alloc(5 + body.length);
  b.writeUInt32BE(body.length, 1);
  body.copy(b, 5);
  return b;
}

/**
 * A node:http2 server on a unix socket: `answer` replies OK with its name; `drop` resets every stream unanswered;
 * `half` sends its reply message and then its connection dies before the status (a controller killed mid-reply).
 */
export async function fakeServer(
  dir: string,
  name: string,
  mode: 'answer' | 'drop' | 'half',
): Promise<{ addr: string; calls: string[]; sessions: () => number; close(): void }> {
  const sock = join(dir, `${name}.sock`);
  const calls: string[] = [];
  let sessions = 0;
  const server = createServer();
  server.on('session', () => sessions++);
  server.on('stream', (s: ServerHttp2Stream, h) => {
    calls.push(String(h[':path']));
    s.on('error', () => {}); // the dropper's own reset
    s.on('data', () => {});
    s.on('end', () => {
      if (mode === 'drop') return s.close(2); // INTERNAL_ERROR: no status, may have been processed
      if (mode === 'half') {
        s.respond({ ':status': 200, 'content-type': 'application/grpc' });
        s.write(frame(Buffer.from(name)), () => s.session?.destroy());
        return;
      }
      s.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }));
      s.end(frame(Buffer.from(name)));
    });
  });
  await new Promise<void>((r) => server.listen(sock, r));
  return { addr: `unix://${sock}`, calls, sessions: () => sessions, close: () => server.close() };
}
