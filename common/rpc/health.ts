// The standard gRPC health service (grpc.health.v1, from the `grpc-health-check` package) on every
// fleetnet gRPC server, so that grpc_health_probe, Kubernetes gRPC probes and load balancers get an
// answer without knowing fleetnet's own Health calls. '' is the server as a whole; each fleetnet
// service has its own entry (an unenrolled agent's TCP endpoint: '' SERVING, fleetnet.v1.Agent
// NOT_SERVING, as it answers the Agent service's Health only). The package is loaded by the
// daemons only (never by a CLI command).
import type { Server } from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';

export { HEALTH_POLICY } from './health-policy.js';

export interface ServerHealth {
  /** Every entry NOT_SERVING (watchers are told), before the server shuts down. */
  draining(): void;
}

/** Adds grpc.health.v1 to `server` with '' and each named service SERVING unless said otherwise. */
export function addHealth(server: Server, services: Readonly<Record<string, ServingStatus>>): ServerHealth {
  const map: Record<string, ServingStatus> = { '': 'SERVING', ...services };
  const impl = new HealthImplementation(map);
  impl.addToServer(server);
  return {
    draining: () => {
      for (const service of Object.keys(map)) impl.setStatus(service, 'NOT_SERVING');
    },
  };
}
