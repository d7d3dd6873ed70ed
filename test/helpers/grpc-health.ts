// Asks grpc.health.v1 Check through the `grpc-health-check` package's own service definition
// (what grpc_health_probe speaks), on plain TCP or a unix socket.
import {
  credentials,
  makeClientConstructor,
  type ChannelCredentials,
  type ChannelOptions,
  type Client,
  type ServiceError,
} from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';

type CheckFn = (req: { service: string }, cb: (err: ServiceError | null, res: { status: string }) => void) => void;
const HealthClient = makeClientConstructor(healthService, 'grpc.health.v1.Health') as unknown as new (
  addr: string,
  c: ChannelCredentials,
  o?: ChannelOptions,
) => Client & { check: CheckFn };

/**
 * The serving status of `service` ('' for the server as a whole); rejects with the gRPC error.
 * tls: the CA to verify the server with and the name it must have (no client certificate, as a probe).
 */
export function healthCheck(
  addr: string,
  service: string,
  tls?: { caPem: string; serverName: string },
): Promise<string> {
  const c = tls
    ? new HealthClient(addr, credentials.createSsl(Buffer.from(tls.caPem)), {
        'grpc.ssl_target_name_override': tls.serverName,
      })
    : new HealthClient(addr, credentials.createInsecure());
  return new Promise<string>((resolve, reject) => {
    c.check({ service }, (err, res) => {
      c.close();
      if (err) reject(err);
      else resolve(res.status);
    });
  });
}
