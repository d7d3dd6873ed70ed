// The agent's CNI socket: the plugin processes' way in (cni/transport.ts says why HTTP/1.1 and not
// the gRPC socket). One route, POST /v1/cni with a JSON body; a unix socket for root only.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { chmodSync, existsSync, rmSync } from 'node:fs';
import type { Logger } from 'pino';
import type { CniHandler } from '../../cni/handler.js';
import { CNI_HTTP_PATH, MAX_CNI_BODY_BYTES, type CniWireRequest } from '../../cni/transport.js';
import { answerCni } from './cni-convert.js';

export interface CniEndpoint {
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_CNI_BODY_BYTES) req.destroy(new Error(`a CNI call over ${MAX_CNI_BODY_BYTES} bytes`));
      else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** The request's shape, or why it is not one (a plugin of another version, or not a plugin at all). */
function parseWire(text: string): CniWireRequest | string {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    return `not JSON: ${(err as Error).message}`;
  }
  if (v?.plugin !== 'fleetnet' && v?.plugin !== 'fleetnet-ipam') return 'plugin must be fleetnet or fleetnet-ipam';
  for (const k of ['command', 'containerId', 'netns', 'ifname', 'args', 'path', 'config'] as const) {
    if (typeof v[k] !== 'string') return `${k} must be a string`;
  }
  return v as unknown as CniWireRequest;
}

export async function startCniEndpoint(socket: string, handler: CniHandler, log: Logger): Promise<CniEndpoint> {
  const server: Server = createServer((req, res) => {
    const reply = (status: number, body: object) => {
      const text = JSON.stringify(body);
      res
        .writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
        .end(text);
    };
    if (req.method !== 'POST' || req.url !== CNI_HTTP_PATH) return reply(404, { error: `POST ${CNI_HTTP_PATH} only` });
    readBody(req).then(
      async (text) => {
        const w = parseWire(text);
        if (typeof w === 'string') return reply(400, { error: w });
        const call = {
          plugin: w.plugin,
          command: w.command,
          containerId: w.containerId,
          netns: w.netns,
          ifname: w.ifname,
          config: Buffer.from(w.config),
        };
        reply(200, await answerCni(handler, call, log));
      },
      (err: unknown) => reply(400, { error: (err as Error).message }),
    );
  });
  if (existsSync(socket)) rmSync(socket); // a stale socket from an earlier run
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, () => resolve());
  });
  chmodSync(socket, 0o600); // root only, like the agent's own socket
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        rmSync(socket, { force: true });
      }),
  };
}
