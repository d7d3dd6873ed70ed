// The CLI's connection to an agent: the local unix socket (or plain TCP to a lab host), promises,
// typed errors, on the CLI's node:http2 gRPC client (no @grpc/grpc-js in a CLI process).
import { resolve } from 'node:path';
import { DEFAULT_AGENT_SOCKET } from '../../common/defaults.js';
import { AgentDefinition } from '../../proto/gen/fleetnet/v1/agent.js';
import { GrpcH2Client, methodsOf, type Method } from './grpc-h2.js';

export { DEFAULT_AGENT_SOCKET };

/** The agent's address: a socket path (relative to the working folder, as a shell user means it), or HOST:PORT. */
export function agentAddress(socket?: string): string {
  const s = socket ?? process.env.FLEETNET_AGENT_SOCKET ?? DEFAULT_AGENT_SOCKET;
  return s.includes('/') ? `unix://${resolve(s)}` : s;
}

/** Every Agent RPC, from the generated definition; the reads may be sent again. */
export const AGENT_METHODS = methodsOf(AgentDefinition, ['health', 'capabilities', 'list', 'inspect', 'meshStatus']);

export interface AgentConn {
  client: typeof AGENT_METHODS;
  addr: string;
  call<Req, Res>(m: Method<Req, Res>, req: Req, timeoutMs?: number): Promise<Res>;
  close(): void;
}

export function connectAgent(socket?: string): AgentConn {
  const addr = agentAddress(socket);
  const rpc = new GrpcH2Client([addr], addr.replace(/^unix:\/\//, ''));
  return {
    client: AGENT_METHODS,
    addr,
    call: (m, req, timeoutMs = 60_000) => rpc.unary(m, req, timeoutMs),
    close: () => rpc.close(),
  };
}
