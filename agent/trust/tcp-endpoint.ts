// The agent's TCP endpoint. Enrolled: mutual TLS, and every call but Health must come from the
// controller's certificate (checked per call: role, expiry). Not enrolled: plain TCP that
// answers Health only. `insecureTcp` keeps the old open endpoint for labs not yet on mTLS.
import { Server, ServerCredentials, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { FleetnetError } from '../../common/errors.js';
import { authorizationInterceptor, type Rule } from '../../common/pki/authorize.js';
import { FileRevocationStore } from '../../common/pki/revocation.js';
import { CredentialProvider, serverCredentials, type Credential } from '../../common/pki/tls.js';
import { AgentService } from '../../proto/gen/fleetnet/v1/agent.js';
import { AgentTrustService } from '../../proto/gen/fleetnet/v1/enroll.js';
import type { AgentTlsFiles } from './credentials.js';
import { startAutoRenew } from './auto-renew.js';
import { agentTrustService } from './trust-service.js';

export const AGENT_POLICY: Readonly<Record<string, Rule>> = Object.freeze({ '/fleetnet.v1.Agent/Health': { kind: 'public' } });
export const AGENT_DEFAULT_RULE: Rule = { kind: 'roles', roles: ['controller'] };

export interface AgentTcpOptions {
  listen: string;
  agentImpl: UntypedServiceImplementation;
  credential: Credential | undefined;
  files: AgentTlsFiles;
  insecureTcp: boolean;
  log: Logger;
}

export async function startAgentTcp(o: AgentTcpOptions): Promise<Server> {
  const revocations = new FileRevocationStore(o.files.revoked);
  const interceptors = o.insecureTcp ? [] : [authorizationInterceptor({ policy: AGENT_POLICY, defaultRule: AGENT_DEFAULT_RULE, isRevoked: (s) => revocations.isRevoked(s), log: o.log })];
  const server = new Server({ interceptors });
  server.addService(AgentService, o.agentImpl);
  let creds: ServerCredentials;
  if (o.credential) {
    const provider = new CredentialProvider(o.credential);
    server.addService(AgentTrustService, agentTrustService({ provider, files: o.files, revocations, log: o.log }));
    creds = serverCredentials(provider);
    const renew = startAutoRenew(provider, o.files, o.log);
    // grpc-js has no shutdown hook: the renewal timer stops with the server
    const shutdown = server.tryShutdown.bind(server);
    server.tryShutdown = (cb) => (renew.stop(), shutdown(cb));
  } else {
    if (o.insecureTcp) o.log.warn({ listen: o.listen }, 'TCP endpoint WITHOUT TLS or authorization (--insecure-tcp): anyone who reaches it can give orders');
    else o.log.warn({ listen: o.listen }, 'not enrolled: TCP answers Health only (bootstrap with fleetnet host add)');
    creds = ServerCredentials.createInsecure();
  }
  try {
    await new Promise<void>((resolve, reject) => server.bindAsync(o.listen, creds, (err) => (err ? reject(err) : resolve())));
  } catch (err) {
    throw new FleetnetError('failed', `cannot listen on ${o.listen}`, { cause: err, hint: 'give an address this host holds, e.g. --listen 10.99.0.11:7441' });
  }
  return server;
}
