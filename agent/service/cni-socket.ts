// The agent's CNI socket: the plugin processes' way in (cni/transport.ts says why its own framing and
// not the gRPC socket). One JSON request until EOF, one reply, then close; a unix socket for root only.
import { createServer, type Server, type Socket } from 'node:net';
import { chmodSync, existsSync, rmSync } from 'node:fs';
import type { Logger } from 'pino';
import { answerPluginCall, parseWire } from '../../cni/call.js';
import type { CniHandler } from '../../cni/handler.js';
import { failOutcome } from '../../cni/plugin.js';
import { CNI_VERSION, CniCode, CniError } from '../../cni/spec.js';
import { encodeReply, MAX_CNI_REQUEST_BYTES, type PluginOutcome } from '../../cni/transport.js';
import { answerCni } from './cni-convert.js';

export interface CniEndpoint {
  close(): Promise<void>;
}

export async function startCniEndpoint(socket: string, handler: CniHandler, log: Logger): Promise<CniEndpoint> {
  const conns = new Set<Socket>();
  const answer = async (text: string): Promise<PluginOutcome> => {
    const w = parseWire(text);
    if (typeof w === 'string') {
      return failOutcome(
        CNI_VERSION,
        new CniError(
          CniCode.ioFailure,
          `the plugin's request to the agent is not one: ${w}`,
          'the plugin is of another fleetnet version than the agent: run fleetnet cni install again',
        ),
      );
    }
    return answerPluginCall(w, (call) => answerCni(handler, call, log));
  };
  // allowHalfOpen: the plugin's EOF ends its request, not the connection; the reply still goes out.
  const server: Server = createServer({ allowHalfOpen: true }, (conn) => {
    conns.add(conn);
    conn.on('close', () => conns.delete(conn));
    conn.on('error', (err) => log.debug({ err }, 'cni connection failed')); // the plugin went away
    const chunks: Buffer[] = [];
    let size = 0;
    conn.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_CNI_REQUEST_BYTES) conn.destroy();
      else chunks.push(c);
    });
    conn.on('end', () => {
      void answer(Buffer.concat(chunks).toString('utf8')).then((o) => conn.end(encodeReply(o)));
    });
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
        for (const c of conns) c.destroy();
        rmSync(socket, { force: true });
      }),
  };
}
