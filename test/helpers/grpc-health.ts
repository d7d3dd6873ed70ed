// Asks grpc.health.v1 Check through the `grpc-health-check` package's own service definition
// (what grpc_health_probe speaks), on plain TCP or a unix socket.
import { credentials, makeClientConstructor, type Client, type ServiceError } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';

type CheckFn = (req: { service: string }, cb: (err: ServiceError | null, res: { status: string }) => void) => void;
const HealthClient = makeClientConstructor(healthService, 'grpc.health.v1.Health') as unknown as
  new (addr: string, c: ReturnType<typeof credentials.createInsecure>) => Client & { check: CheckFn };

/** The serving status of `service` ('' for the server as a whole); rejects with the gRPC error. */
export function healthCheck(addr: string, service: string): Promise<string> {
  const c = new HealthClient(addr, credentials.createInsecure());
  return new Promise<string>((resolve, reject) => {
    c.check({ service }, (err, res) => {
      c.close();
      if (err) reject(err);
      else resolve(res.status);
    });
  });
}
