// The controller's connections to agents, one per agent address. Credentials live here only:
// plain TCP today; mutual TLS (the PKI issue) replaces `agentCredentials` and nothing else.
import { credentials, Metadata, type ChannelCredentials, type ChannelOptions, type ServiceError } from '@grpc/grpc-js';
import type { Trust } from '../pki/controller-dir.js';
import { agentChannel } from '../pki/wiring.js';
import { FleetnetError } from '../../common/errors.js';
import { fromServiceError } from '../../common/grpc-errors.js';
import {
  AgentClient, type AttachReply, type AttachRequest, type DetachReply, type DetachRequest, type HealthReply, type ListReply, type CapabilitiesReply, type CheckReply, type CheckRequest,
} from '../../proto/gen/fleetnet/v1/agent.js';

export function agentCredentials(): ChannelCredentials {
  return credentials.createInsecure();
}

/** Links over mutual TLS (trust, issue 7): the agent's certificate must name the host; plain TCP without a trust folder. */
export function tlsAgentLinks(trust: Trust | undefined): AgentLinkFactory {
  return (addr, hostName) => grpcAgentLink(addr, hostName, agentChannel(trust, hostName));
}

export interface AgentLink {
  health(timeoutMs: number): Promise<HealthReply>;
  capabilities(timeoutMs: number): Promise<CapabilitiesReply>;
  list(timeoutMs: number): Promise<ListReply>;
  attach(req: AttachRequest, timeoutMs: number): Promise<AttachReply>;
  detach(req: DetachRequest, timeoutMs: number): Promise<DetachReply>;
  /** The agent's own check of its host (absent on links that cannot ask it). */
  check?(req: CheckRequest, timeoutMs: number): Promise<CheckReply>;
  close(): void;
}

/** Makes links; a test may hand in its own. */
export type AgentLinkFactory = (addr: string, hostName: string) => AgentLink;

type Cb<R> = (err: ServiceError | null, res: R) => void;

export const grpcAgentLink = (addr: string, _hostName?: string, channel: { creds: ChannelCredentials; options: ChannelOptions } = { creds: agentCredentials(), options: {} }): AgentLink => {
  const client = new AgentClient(addr, channel.creds, {
    ...channel.options,
    'grpc.initial_reconnect_backoff_ms': 200,
    'grpc.max_reconnect_backoff_ms': 2000,
  });
  const call = <Req, Res>(fn: (req: Req, md: Metadata, opts: { deadline: number }, cb: Cb<Res>) => unknown, req: Req, timeoutMs: number) =>
    new Promise<Res>((resolve, reject) => {
      fn.call(client, req, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) =>
        err ? reject(fromServiceError(err, `the agent at ${addr}`)) : resolve(res),
      );
    });
  return {
    health: (t) => call(client.health, {}, t),
    capabilities: (t) => call(client.capabilities, {}, t),
    list: (t) => call(client.list, {}, t),
    attach: (req, t) => call(client.attach, req, t),
    detach: (req, t) => call(client.detach, req, t),
    check: (req, t) => call(client.check, req, t),
    close: () => client.close(),
  };
};

/** The agent could not be reached (as opposed to: it answered and refused). */
export function isUnreachable(err: unknown): boolean {
  return err instanceof FleetnetError && err.kind === 'unavailable';
}
