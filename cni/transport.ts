// How a CNI plugin process reaches its agent: a unix socket the agent serves beside its gRPC socket
// (agent.sock -> agent-cni.sock), root only, with a framing of fleetnet's own that a 200-line C
// program speaks as easily as Node (cni/native/fleetnet-cni.c, and ./plugin.ts, the Node fallback):
//   request: one JSON object (CniWireRequest), then the plugin shuts down its writing side (EOF);
//   reply:   the plugin's exit code in decimal, a newline, then exactly what the plugin prints on
//            stdout; then the agent closes the connection.
// Not the agent's gRPC socket: a runtime starts one plugin process per call, and an HTTP/2 client
// costs such a process more than the whole call (bench/cni.ts measures the ADD).
import { connect } from 'node:net';
import type { CniRequest } from '../proto/gen/fleetnet/v1/agent.js';

/** A network configuration is a few kilobytes; anything near this is not one (both plugins refuse it). */
export const MAX_CNI_CONFIG_BYTES = 1 << 20;
/** The request as the agent reads it: the configuration JSON-escaped (at most 6 bytes a byte) and the rest. */
export const MAX_CNI_REQUEST_BYTES = 8 << 20;
/** A reply (a CNI result or error) larger than this is not one. */
export const MAX_CNI_REPLY_BYTES = 1 << 20;

/** The Cni RPC's request (agent.proto) as JSON; a type-only import: the plugin loads no protobuf code. */
export type CniWireRequest = Omit<CniRequest, 'plugin' | 'config'> & {
  plugin: 'fleetnet' | 'fleetnet-ipam';
  /** stdin as the runtime wrote it: the network configuration JSON text. */
  config: string;
};

/** What the plugin process prints and how it exits. */
export interface PluginOutcome {
  stdout: string;
  exitCode: number;
}

/** The CNI socket of an agent, from its gRPC socket's path. */
export function cniSocketOf(agentSocket: string): string {
  return agentSocket.endsWith('.sock')
    ? `${agentSocket.slice(0, -'.sock'.length)}-cni.sock`
    : `${agentSocket}-cni.sock`;
}

export function encodeReply(o: PluginOutcome): Buffer {
  return Buffer.concat([Buffer.from(`${o.exitCode}\n`), Buffer.from(o.stdout, 'utf8')]);
}

/** The reply's outcome; throws when `buf` is not one (an agent that closed without answering). */
export function decodeReply(buf: Buffer): PluginOutcome {
  const nl = buf.indexOf(10);
  const head = nl > 0 ? buf.subarray(0, nl).toString('latin1') : '';
  if (!/^\d{1,3}$/.test(head) || Number(head) > 255) {
    throw new Error(buf.length ? "the agent's answer is not a CNI reply" : 'the agent closed without an answer');
  }
  return { exitCode: Number(head), stdout: buf.subarray(nl + 1).toString('utf8') };
}

/** One CNI call to the agent listening on `socket`; rejects when nothing answers there. */
export function callAgentCni(socket: string, req: CniWireRequest, timeoutMs: number): Promise<PluginOutcome> {
  return new Promise((resolve, reject) => {
    const conn = connect({ path: socket, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    let size = 0;
    conn.setTimeout(timeoutMs, () => conn.destroy(new Error(`no answer from the agent in ${timeoutMs} ms`)));
    conn.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_CNI_REPLY_BYTES)
        conn.destroy(new Error(`the agent's answer is over ${MAX_CNI_REPLY_BYTES} bytes`));
      else chunks.push(c);
    });
    conn.on('error', reject);
    conn.on('end', () => {
      conn.destroy();
      try {
        resolve(decodeReply(Buffer.concat(chunks)));
      } catch (err) {
        reject(err as Error);
      }
    });
    conn.end(JSON.stringify(req));
  });
}
