// Bootstrap's connection to one agent over mutual TLS, as the controller: the agent's certificate
// must carry the host id and not be revoked. The client is the RPC layer's one agent client
// (common/rpc/agent-client.ts); used to wait for a new agent, to rotate its certificate, and by tests.
import { AgentRpcClient } from '../../common/rpc/agent-client.js';
import type { Trust } from '../pki/controller-dir.js';
import { agentChannel } from '../pki/wiring.js';

export { callAgent } from '../../common/rpc/agent-client.js';

/** mTLS to one agent: its certificate must name hostId and must not be revoked. */
export function connectAgentTls(addr: string, hostId: string, trust: Trust): AgentRpcClient {
  return new AgentRpcClient(addr, agentChannel(trust, hostId), `agent ${hostId} at ${addr}`);
}

/** Until the agent answers a controller-only call over mTLS with its own certificate (bounded). */
export async function waitForAgent(
  addr: string,
  hostId: string,
  trust: Trust,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  const conn = connectAgentTls(addr, hostId, trust);
  const until = Date.now() + timeoutMs;
  try {
    for (;;) {
      try {
        await conn.list(2000, signal);
        return;
      } catch (err) {
        if (Date.now() > until || signal?.aborted) throw err;
        await new Promise((r) => setTimeout(r, 300));
      }
    }
  } finally {
    conn.close();
  }
}
