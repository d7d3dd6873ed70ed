// The dispatcher's view of one agent: the calls it makes (orders, inventory, health). Links are
// the one agent client of the RPC layer (common/rpc/agent-client.ts) over the controller's
// channel to that host: mutual TLS when the controller has a CA, plain TCP without.
import { AgentRpcClient, type RpcChannel } from '../../common/rpc/agent-client.js';
import type { Trust } from '../pki/controller-dir.js';
import { agentChannel } from '../pki/wiring.js';

export { isUnreachable } from '../../common/rpc/agent-client.js';

/**
 * Links over mutual TLS (trust, issue 7): the agent's certificate must name the host; plain TCP without a trust folder.
 */
export function tlsAgentLinks(trust: Trust | undefined): AgentLinkFactory {
  return (addr, hostName) => grpcAgentLink(addr, hostName, agentChannel(trust, hostName));
}

export type AgentLink = Pick<AgentRpcClient, 'health' | 'capabilities' | 'list' | 'attach' | 'detach' | 'close'> &
  /** The agent's own check of its host (`fleetnet check`); links that cannot ask it leave it out. */
  Partial<Pick<AgentRpcClient, 'check'>>;

/** Makes links; a test may hand in its own. */
export type AgentLinkFactory = (addr: string, hostName: string) => AgentLink;

export const grpcAgentLink = (addr: string, _hostName?: string, channel?: RpcChannel): AgentLink =>
  new AgentRpcClient(addr, channel);
