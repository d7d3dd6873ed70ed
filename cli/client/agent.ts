// The CLI's connection to an agent: a unix socket locally (or TCP for a lab host), promises, typed errors.
// This module is imported lazily by the commands that talk to an agent, so `--help` never loads gRPC.
import { credentials, Metadata, type CallOptions, type Client, type ServiceError } from '@grpc/grpc-js';
import { FleetnetError } from '../../common/errors.js';
import { fromServiceError } from '../../common/grpc-errors.js';
import { AgentClient } from '../../proto/gen/fleetnet/v1/agent.js';

export const DEFAULT_AGENT_SOCKET = '/run/fleetnet/agent.sock';

export function agentAddress(socket?: string): string {
  const s = socket ?? process.env.FLEETNET_AGENT_SOCKET ?? DEFAULT_AGENT_SOCKET;
  return s.includes('/') ? `unix://${s}` : s;
}

type Unary<Req, Res> = (req: Req, md: Metadata, opts: CallOptions, cb: (err: ServiceError | null, res: Res) => void) => unknown;

/** One unary call with a deadline; errors come back as FleetnetError. */
export function unaryCall<Req, Res>(client: Client, fn: Unary<Req, Res>, req: Req, timeoutMs: number, peer: string): Promise<Res> {
  return new Promise((resolve, reject) => {
    fn.call(client, req, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
      if (!err) return resolve(res);
      const e = fromServiceError(err, peer);
      if (e.kind === 'unavailable' && err.metadata?.get('fleetnet-kind').length === 0) {
        reject(new FleetnetError('unavailable', `no agent answers at ${peer}`, { cause: err, hint: 'start one with: fleetnet agent run   (or point --socket at a running agent)' }));
      } else reject(e);
    });
  });
}

export interface AgentConn {
  client: AgentClient;
  addr: string;
  call<Req, Res>(fn: Unary<Req, Res>, req: Req, timeoutMs?: number): Promise<Res>;
  close(): void;
}

export function connectAgent(socket?: string): AgentConn {
  const addr = agentAddress(socket);
  const client = new AgentClient(addr, credentials.createInsecure());
  return {
    client,
    addr,
    call: (fn, req, timeoutMs = 60_000) => unaryCall(client, fn, req, timeoutMs, addr.replace(/^unix:\/\//, '')),
    close: () => client.close(),
  };
}
