// Bootstrap's connection to one agent over mutual TLS, as the controller: the agent's certificate
// must carry the host id and not be revoked. The client is the RPC layer's one agent client
// (common/rpc/agent-client.ts); used to wait for a new agent, to rotate its certificate, to probe
// one before host add records it, and by tests.
import { FleetnetError } from '../../common/errors.js';
import { AgentRpcClient, insecureChannel } from '../../common/rpc/agent-client.js';
import type { Trust } from '../pki/controller-dir.js';
import { agentChannel } from '../pki/wiring.js';

export { callAgent } from '../../common/rpc/agent-client.js';

/** mTLS to one agent: its certificate must name hostId and must not be revoked (onRevoked: see agentChannel). */
export function connectAgentTls(
  addr: string,
  hostId: string,
  trust: Trust,
  onRevoked?: (serial: string) => void,
): AgentRpcClient {
  return new AgentRpcClient(addr, agentChannel(trust, hostId, onRevoked), `agent ${hostId} at ${addr}`);
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

/** What the controller sees at an agent's address (ProbeAgent). */
export type AgentProbe = 'enrolled' | 'revoked' | 'open' | 'not-enrolled' | 'unreachable';

/** Tries mutual TLS as the controller, then plain TCP: which of AgentProbe the agent at addr is, and why. */
export async function probeAgent(
  addr: string,
  hostId: string,
  trust: Trust,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<{ state: AgentProbe; detail: string }> {
  let revokedSerial: string | undefined;
  const tls = connectAgentTls(addr, hostId, trust, (serial) => (revokedSerial = serial));
  let tlsError: string;
  try {
    await tls.list(timeoutMs, signal);
    return { state: 'enrolled', detail: `answers over mutual TLS as ${hostId}` };
  } catch (err) {
    tlsError = err instanceof Error ? err.message : String(err);
  } finally {
    tls.close();
  }
  if (revokedSerial) {
    return { state: 'revoked', detail: `answers with certificate ${revokedSerial} for ${hostId}, which is revoked` };
  }
  // An agent that is not enrolled serves plain TCP: Health to anyone, nothing else.
  const plain = new AgentRpcClient(addr, insecureChannel(), `agent ${hostId} at ${addr}`);
  try {
    await plain.list(timeoutMs, signal);
    return { state: 'open', detail: 'serves plain TCP without authorization (--insecure-tcp)' };
  } catch (err) {
    if (err instanceof FleetnetError && err.kind === 'permission') {
      return { state: 'not-enrolled', detail: 'answers on plain TCP, Health only: not enrolled' };
    }
    return { state: 'unreachable', detail: tlsError };
  } finally {
    plain.close();
  }
}
