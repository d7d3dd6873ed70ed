// The controller's mTLS connection to one agent: verifies the agent's certificate carries the
// host id, presents the controller's certificate. Used to wait for a new agent, to rotate its
// certificate and to push revocations.
import { Metadata, type Client, type ServiceError } from '@grpc/grpc-js';
import { fromServiceError } from '../../common/grpc-errors.js';
import type { Trust } from '../pki/controller-dir.js';
import { agentChannel } from '../pki/wiring.js';
import { AgentClient } from '../../proto/gen/fleetnet/v1/agent.js';
import { AgentTrustClient } from '../../proto/gen/fleetnet/v1/enroll.js';

type Unary<Req, Res> = (req: Req, md: Metadata, opts: { deadline: number }, cb: (err: ServiceError | null, res: Res) => void) => unknown;

export function callAgent<Req, Res>(client: Client, fn: Unary<Req, Res>, req: Req, timeoutMs: number, peer: string): Promise<Res> {
  return new Promise((resolve, reject) =>
    fn.call(client, req, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(fromServiceError(err, peer)) : resolve(res))),
  );
}

export interface AgentTrustConn {
  agent: AgentClient;
  trust: AgentTrustClient;
  close(): void;
}

/** mTLS to one agent: its certificate must name hostId and must not be revoked. */
export function connectAgentTls(addr: string, hostId: string, trust: Trust): AgentTrustConn {
  const { creds, options } = agentChannel(trust, hostId);
  const agent = new AgentClient(addr, creds, options);
  const trustClient = new AgentTrustClient(addr, creds, options);
  return { agent, trust: trustClient, close: () => (agent.close(), trustClient.close()) };
}

/** Until the agent answers a controller-only call over mTLS with its own certificate (bounded). */
export async function waitForAgent(addr: string, hostId: string, trust: Trust, timeoutMs: number): Promise<void> {
  const conn = connectAgentTls(addr, hostId, trust);
  const until = Date.now() + timeoutMs;
  try {
    for (;;) {
      try {
        await callAgent(conn.agent, conn.agent.list, {}, 2000, `agent ${hostId} at ${addr}`);
        return;
      } catch (err) {
        if (Date.now() > until) throw err;
        await new Promise((r) => setTimeout(r, 300));
      }
    }
  } finally {
    conn.close();
  }
}
