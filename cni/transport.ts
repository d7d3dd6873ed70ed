// How a CNI plugin process reaches its agent: one HTTP/1.1 POST with a JSON body over a unix socket
// that the agent serves beside its gRPC socket (agent.sock -> agent-cni.sock), root only. Not the
// agent's gRPC socket: a runtime starts one plugin process per call, and loading node:http2 alone
// costs such a process ~20 ms, node:http ~3 ms (bench/cni.ts measures the whole ADD). Both ends use
// Node's own HTTP implementation; this module holds the shared shapes and the client.
import { request } from 'node:http';
import type { CniReply, CniRequest } from '../proto/gen/fleetnet/v1/agent.js';

export const CNI_HTTP_PATH = '/v1/cni';
/** A network configuration is a few kilobytes; anything near this is not one. */
export const MAX_CNI_BODY_BYTES = 1 << 20;

/** The Cni RPC's messages (agent.proto) as JSON; a type-only import: the plugin loads no protobuf code. */
export type CniWireRequest = Omit<CniRequest, 'plugin' | 'config'> & {
  plugin: 'fleetnet' | 'fleetnet-ipam';
  /** stdin as the runtime wrote it: the network configuration JSON text. */
  config: string;
};
/** `result`: stdout on success (may be empty: DEL, GC, STATUS); `code` 0, else the CNI error. */
export type CniWireReply = Omit<CniReply, 'result'> & { result: string };

/** The CNI socket of an agent, from its gRPC socket's path. */
export function cniSocketOf(agentSocket: string): string {
  return agentSocket.endsWith('.sock')
    ? `${agentSocket.slice(0, -'.sock'.length)}-cni.sock`
    : `${agentSocket}-cni.sock`;
}

/** One CNI call to the agent listening on `socket`; rejects when nothing answers there. */
export function callAgentCni(socket: string, req: CniWireRequest, timeoutMs: number): Promise<CniWireReply> {
  const body = JSON.stringify(req);
  return new Promise((resolve, reject) => {
    const r = request(
      {
        socketPath: socket,
        path: CNI_HTTP_PATH,
        method: 'POST',
        timeout: timeoutMs,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200)
            return reject(new Error(`the agent answered HTTP ${res.statusCode}: ${text.trim()}`));
          try {
            resolve(JSON.parse(text) as CniWireReply);
          } catch (err) {
            reject(new Error(`the agent's answer is not JSON: ${(err as Error).message}`));
          }
        });
      },
    );
    r.on('timeout', () => r.destroy(new Error(`no answer from the agent in ${timeoutMs} ms`)));
    r.on('error', reject);
    r.end(body);
  });
}
