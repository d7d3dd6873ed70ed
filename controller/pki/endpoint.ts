// The controller's TCP endpoint with mutual TLS: its own certificate, client certificates
// requested (not required), and the authorization interceptor in front of every call: grpc-js
// serves everything through its public API, so this interceptor is the one authorization path.
// The controller's composition root mounts its services here (see the trust README section).
import { Server, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { FleetnetError } from '../../common/errors.js';
import { authorizationInterceptor, type Rule } from '../../common/pki/authorize.js';
import { bindServer, SERVER_OPTIONS, shutdownServer } from '../../common/rpc/server.js';
import { CredentialProvider, serverCredentials } from '../../common/pki/tls.js';
import type { Trust } from './controller-dir.js';
import { CONTROLLER_DEFAULT_RULE, CONTROLLER_POLICY, enrollmentService } from './enrollment-service.js';
import { EnrollmentService } from '../../common/rpc/services.js';

export interface ControllerEndpointOptions {
  trust: Trust;
  listen: string;
  log: Logger;
  /** The controller's own services (Controller, reflection, ...). */
  services?: { def: ServiceDefinition; impl: UntypedServiceImplementation }[];
  /** Anything else to add before binding (e.g. `new ReflectionService(...).addToServer(server)`). */
  configure?: (server: Server) => void;
  /** Extra per-method rules (e.g. host-scoped agent reports). */
  policy?: Readonly<Record<string, Rule>>;
}

export interface ControllerEndpoint {
  port: number;
  server: Server;
  stop(): Promise<void>;
}

export async function startControllerEndpoint(o: ControllerEndpointOptions): Promise<ControllerEndpoint> {
  const auth = {
    policy: { ...CONTROLLER_POLICY, ...o.policy },
    defaultRule: CONTROLLER_DEFAULT_RULE,
    isRevoked: (s: string) => o.trust.revocations.isRevoked(s),
    log: o.log,
  };
  const server = new Server({ ...SERVER_OPTIONS, interceptors: [authorizationInterceptor(auth)] });
  const services = [{ def: EnrollmentService, impl: enrollmentService(o.trust, o.log) }, ...(o.services ?? [])];
  for (const s of services) server.addService(s.def, s.impl);
  o.configure?.(server);
  const creds = serverCredentials(new CredentialProvider(o.trust.controllerCredential()));
  const port = await bindServer(server, o.listen, creds).catch((err: unknown) => {
    throw new FleetnetError('failed', `cannot listen on ${o.listen}`, {
      cause: err,
      hint: 'give an address this machine holds, e.g. --listen 10.99.0.1:7440',
    });
  });
  o.log.info({ listen: o.listen, port }, 'controller endpoint serving (mTLS)');
  return { port, server, stop: () => shutdownServer(server) };
}
