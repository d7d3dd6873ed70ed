// Per-method authorization on every call, from the peer certificate TLS verified. grpc-js takes
// no revocation list, so revocation, expiry, role and host scope are all checked here.
import {
  ResponderBuilder,
  ServerInterceptingCall,
  ServerListenerBuilder,
  status,
  type ServerInterceptor,
} from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { FleetnetError } from '../errors.js';
import { toServiceError } from '../rpc/server.js';
import { identityOfPeer, type Identity, type Role } from './identity.js';

export type Rule =
  /** Anyone, certificate or not (Health, Enroll). */
  | { kind: 'public' }
  /** A certificate of one of these roles. */
  | { kind: 'roles'; roles: readonly Role[] }
  /**
   * A host certificate acting for itself alone: request[field] must be its own host id. Certificates
   * of `alsoRoles` (a user's CLI) may call it for any host.
   */
  | { kind: 'host-self'; field: string; alsoRoles?: readonly Role[] };

export interface AuthorizationOptions {
  /** Keyed by the full method path, e.g. "/fleetnet.v1.Agent/Attach". */
  policy: Readonly<Record<string, Rule>>;
  /** For methods the policy does not name: never public by accident. */
  defaultRule: Rule;
  isRevoked?: (serial: string) => boolean;
  now?: () => number;
  log?: Logger;
}

/** Decides one call; throws a FleetnetError('permission') naming why it is refused. */
export function checkPeer(
  rule: Rule,
  peer: Parameters<typeof identityOfPeer>[0],
  o: Pick<AuthorizationOptions, 'isRevoked' | 'now'>,
): Identity | undefined {
  if (rule.kind === 'public') return undefined;
  const id = identityOfPeer(peer);
  const now = (o.now ?? Date.now)();
  if (!(id.notAfterMs > now) || !(id.notBeforeMs <= now)) {
    throw new FleetnetError('permission', `certificate of ${id.role} ${id.name} is not valid now`, {
      hint: 'renew it: fleetnet host rotate-cert (hosts) or fleetnet controller init / a new CLI credential',
    });
  }
  if (o.isRevoked?.(id.serial))
    throw new FleetnetError('permission', `certificate ${id.serial} of ${id.role} ${id.name} is revoked`, {
      hint:
        id.role === 'cli'
          ? 'this CLI credential was revoked (fleetnet controller cli-revoke): use another, or have a new one ' +
            'made with one that works: fleetnet controller cli-cert NAME --out DIR'
          : 'the host was removed or its certificate rotated; enroll it again with fleetnet host add',
    });
  if (rule.kind === 'roles' && !rule.roles.includes(id.role)) {
    throw new FleetnetError('permission', `a ${id.role} certificate (${id.name}) may not call this`, {
      hint: `only ${rule.roles.join(' or ')} may`,
    });
  }
  if (rule.kind === 'host-self' && id.role !== 'host' && !rule.alsoRoles?.includes(id.role)) {
    const also = rule.alsoRoles ? `, or ${rule.alsoRoles.join(' or ')}` : '';
    const hint = `only a host, for itself${also}`;
    throw new FleetnetError('permission', `a ${id.role} certificate (${id.name}) may not call this`, { hint });
  }
  return id;
}

function hostScope(rule: Rule, id: Identity | undefined, message: unknown): void {
  if (rule.kind !== 'host-self' || id?.role !== 'host') return;
  const claimed = (message as Record<string, unknown> | null)?.[rule.field];
  if (claimed !== id.name) {
    throw new FleetnetError('permission', `host ${id.name}'s certificate may not act for host ${String(claimed)}`, {
      hint: 'a host certificate acts for its own host only',
    });
  }
}

export function authorizationInterceptor(o: AuthorizationOptions): ServerInterceptor {
  return (method, call) => {
    const rule = o.policy[method.path] ?? o.defaultRule;
    if (rule.kind === 'public') return new ServerInterceptingCall(call);
    let refused: FleetnetError | undefined;
    let id: Identity | undefined;
    try {
      id = checkPeer(rule, call.getAuthContext()?.sslPeerCertificate, o);
    } catch (err) {
      refused = err instanceof FleetnetError ? err : new FleetnetError('permission', String(err));
    }
    let done = false;
    const refuse = (err: FleetnetError) => {
      if (done) return;
      done = true;
      o.log?.warn({ method: method.path, peer: call.getPeer(), err: err.message }, 'call refused');
      const st = toServiceError(err);
      const noCert = err.message === 'no client certificate';
      call.sendStatus({
        code: noCert ? status.UNAUTHENTICATED : status.PERMISSION_DENIED,
        details: st.details ?? err.message,
        metadata: st.metadata!,
      });
    };
    const listener = new ServerListenerBuilder()
      .withOnReceiveMetadata((md, next) => (refused ? refuse(refused) : next(md)))
      .withOnReceiveMessage((msg, next) => {
        if (done) return;
        try {
          hostScope(rule, id, msg);
        } catch (err) {
          return refuse(err as FleetnetError);
        }
        next(msg);
      })
      .withOnReceiveHalfClose((next) => (done ? undefined : next()))
      .build();
    return new ServerInterceptingCall(call, new ResponderBuilder().withStart((next) => next(listener)).build());
  };
}
