// The agent's TCP endpoint. Enrolled: mutual TLS, and every call but Health must come from the
// controller's certificate (checked per call: role, expiry, revocation), also when --insecure-tcp
// was given (an enrolled agent never serves without authorization; the flag is ignored, with a
// warning). Not enrolled: plain TCP that answers Health only; with --insecure-tcp (labs not on
// mTLS) plain TCP with no authorization at all, said loudly in the log.
import { Server, ServerCredentials, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { FleetnetError } from '../../common/errors.js';
import { addHealth } from '../../common/rpc/health.js';
import { HEALTH_POLICY } from '../../common/rpc/health-policy.js';
import { bindServer, SERVER_OPTIONS, shutdownServer, warnUnauthorized } from '../../common/rpc/server.js';
import { authorizationInterceptor, type Rule } from '../../common/pki/authorize.js';
import { FileRevocationStore } from '../../common/pki/revocation.js';
import { CredentialProvider, serverCredentials, type Credential } from '../../common/pki/tls.js';
import type { AgentTlsFiles } from './credentials.js';
import { startAutoRenew } from './auto-renew.js';
import { agentTrustService } from './trust-service.js';
import { AgentService, AgentTrustService } from '../../common/rpc/services.js';

export const AGENT_POLICY: Readonly<Record<string, Rule>> = Object.freeze({
  '/fleetnet.v1.Agent/Health': { kind: 'public' },
  ...HEALTH_POLICY,
});
export const AGENT_DEFAULT_RULE: Rule = { kind: 'roles', roles: ['controller'] };

export interface AgentTcpOptions {
  listen: string;
  agentImpl: UntypedServiceImplementation;
  credential: Credential | undefined;
  files: AgentTlsFiles;
  insecureTcp: boolean;
  log: Logger;
}

/** The agent's TCP endpoint: its server, and how to stop it. */
export interface AgentTcp {
  server: Server;
  stop(): Promise<void>;
}

export async function startAgentTcp(o: AgentTcpOptions): Promise<AgentTcp> {
  const revocations = new FileRevocationStore(o.files.revoked);
  const open = o.insecureTcp && !o.credential;
  const interceptors = open
    ? []
    : [
        authorizationInterceptor({
          policy: AGENT_POLICY,
          defaultRule: AGENT_DEFAULT_RULE,
          isRevoked: (s) => revocations.isRevoked(s),
          log: o.log,
        }),
      ];
  const server = new Server({ ...SERVER_OPTIONS, interceptors });
  server.addService(AgentService, o.agentImpl);
  // grpc.health.v1: the Agent service serves only once enrolled (or when open by --insecure-tcp)
  const health = addHealth(server, { 'fleetnet.v1.Agent': o.credential || open ? 'SERVING' : 'NOT_SERVING' });
  let stopRenew = () => {};
  let creds: ServerCredentials;
  if (o.credential) {
    if (o.insecureTcp)
      o.log.warn(
        { listen: o.listen },
        '--insecure-tcp ignored: this agent is enrolled, so its TCP endpoint serves mutual TLS with authorization',
      );
    const provider = new CredentialProvider(o.credential);
    server.addService(AgentTrustService, agentTrustService({ provider, files: o.files, revocations, log: o.log }));
    creds = serverCredentials(provider);
    const renew = startAutoRenew(provider, o.files, o.log);
    stopRenew = () => renew.stop();
  } else {
    if (!open)
      o.log.warn({ listen: o.listen }, 'not enrolled: TCP answers Health only (bootstrap with fleetnet host add)');
    creds = ServerCredentials.createInsecure();
  }
  try {
    await bindServer(server, o.listen, creds);
  } catch (err) {
    stopRenew();
    throw new FleetnetError('failed', `cannot listen on ${o.listen}`, {
      cause: err,
      hint: 'give an address this host holds, e.g. --listen 10.99.0.11:7441',
    });
  }
  if (open) warnUnauthorized(o.log, o.listen, 'agent TCP endpoint without TLS (--insecure-tcp, not enrolled)');
  return {
    server,
    // health watchers hear NOT_SERVING and the renewal timer stops, then the server
    stop: () => (health.draining(), stopRenew(), shutdownServer(server)),
  };
}
