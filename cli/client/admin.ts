// The CLI's side of the Admin service (proto/fleetnet/v1/admin.proto): on the same connection as
// the Controller calls (cli/client/controller.ts), authorized by the CLI's certificate. Imported lazily.
import { AdminDefinition } from '../../proto/gen/fleetnet/v1/admin.js';
import type { FleetAuthority } from '../bootstrap/bootstrap.js';
import type { ControllerConn } from './controller.js';
import { methodsOf } from './grpc-h2.js';

/** Admin RPCs; ProbeAgent is a read (it may move on to another controller). */
export const ADMIN = methodsOf(AdminDefinition, ['probeAgent']);

export type OnRegistered = (name: string, conn: ControllerConn) => Promise<void>;

/** A bootstrap's calls to the controller: token, enrollment wait, registration (then onRegistered), undo. */
export function fleetAuthority(conn: ControllerConn, onRegistered?: OnRegistered): FleetAuthority {
  return {
    hostToken: async (hostId, ttlMs) => conn.call(ADMIN.hostToken, { hostId, ttlMs: ttlMs ?? 0 }),
    dropToken: async (token) => {
      await conn.call(ADMIN.revokeHostToken, { token });
    },
    waitEnrolled: async (hostId, agentAddr, timeoutMs) => {
      await conn.call(ADMIN.waitHostEnrolled, { hostId, agentAddr, timeoutMs }, timeoutMs + 5000);
    },
    revokeSince: async (hostId, sinceUnixMs, reason) => {
      await conn.call(ADMIN.revokeHostCerts, { hostId, reason, issuedSinceUnixMs: sinceUnixMs, forget: false });
    },
    register: async (h) => conn.call(conn.client.addHost, h),
    ...(onRegistered ? { registered: (name: string) => onRegistered(name, conn) } : {}),
    unregister: async (name) => {
      await conn.call(conn.client.removeHost, { name, force: false });
    },
  };
}
