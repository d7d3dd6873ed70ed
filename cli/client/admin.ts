// The CLI's side of the Admin service (proto/fleetnet/v1/admin.proto): on the same connection as
// the Controller calls (cli/client/controller.ts), authorized by the CLI's certificate. Imported lazily.
import { AdminDefinition } from '../../proto/gen/fleetnet/v1/admin.js';
import type { FleetAuthority } from '../bootstrap/bootstrap.js';
import type { ControllerConn } from './controller.js';
import { methodsOf } from './grpc-h2.js';

/** Admin RPCs; ProbeAgent is a read (it may move on to another controller). */
export const ADMIN = methodsOf(AdminDefinition, ['probeAgent']);

export type OnRegistered = (name: string, conn: ControllerConn) => Promise<void>;

/** A bootstrap's calls to the controller: token, enrollment wait, undo, registration (then onRegistered). */
export function fleetAuthority(conn: ControllerConn, onRegistered?: OnRegistered): FleetAuthority {
  return {
    hostToken: async (hostId, ttlMs) => conn.call(ADMIN.hostToken, { hostId, ttlMs: ttlMs ?? 0 }),
    waitEnrolled: async (hostId, agentAddr, timeoutMs) => {
      await conn.call(ADMIN.waitHostEnrolled, { hostId, agentAddr, timeoutMs }, timeoutMs + 5000);
    },
    revokeSince: async (hostId, sinceUnixMs, reason) => {
      await conn.call(ADMIN.revokeHostCerts, { hostId, reason, issuedSinceUnixMs: sinceUnixMs, forget: false });
    },
    register: async (h) => {
      await conn.call(conn.client.addHost, { name: h.name, agentAddr: h.agentAddr, underlayIp: h.underlayIp });
      await onRegistered?.(h.name, conn);
    },
  };
}
