// gRPC handlers of the Enrollment service (controller side), and the controller's call policy.
import type { sendUnaryData, ServerUnaryCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { invalid } from '../../common/errors.js';
import { toServiceError } from '../../common/rpc/server.js';
import type { Rule } from '../../common/pki/authorize.js';
import { HEALTH_POLICY } from '../../common/rpc/health-policy.js';
import { identityOfPeer, parseHostId } from '../../common/pki/identity.js';
import type { EnrollReply, EnrollRequest, RenewRequest } from '../../proto/gen/fleetnet/v1/enroll.js';
import type { Trust } from './controller-dir.js';

/**
 * Who may call what on the controller. Enroll and health answer anyone; Renew only a host for
 * itself; everything else (the Controller service) a CLI user or the controller itself.
 * Host-scoped controller RPCs (agent reports) are added here as `host-self` with their field.
 */
export const CONTROLLER_POLICY: Readonly<Record<string, Rule>> = Object.freeze({
  '/fleetnet.v1.Enrollment/Enroll': { kind: 'public' },
  '/fleetnet.v1.Enrollment/Renew': { kind: 'host-self', field: 'hostId' },
  '/fleetnet.v1.Controller/ControllerHealth': { kind: 'public' },
  ...HEALTH_POLICY,
});
export const CONTROLLER_DEFAULT_RULE: Rule = { kind: 'roles', roles: ['cli', 'controller'] };

/** Issues a host certificate for a CSR and records its serial under the host. */
export async function issueHostCert(trust: Trust, hostId: string, csrPem: string): Promise<EnrollReply> {
  const issued = await trust.ca.issueFromCsr(csrPem, {
    role: 'host',
    name: hostId,
    validityMs: trust.settings.hostCertValidityMs,
  });
  trust.issued.record(hostId, { serial: issued.serial, notAfterMs: issued.notAfterMs, atMs: Date.now() });
  return { certPem: issued.certPem, caPem: trust.ca.certPem, serial: issued.serial, notAfterUnixMs: issued.notAfterMs };
}

/** Revokes every certificate issued to a host (host rm, or a forced re-enrollment). */
export function revokeHost(trust: Trust, hostId: string, reason: string): string[] {
  const serials = trust.issued.list(hostId).map((r) => r.serial);
  for (const serial of serials) trust.revocations.revoke({ serial, name: hostId, reason });
  return serials;
}

function unary<Req, Res>(log: Logger, name: string, fn: (req: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>) {
  return (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => {
    fn(call.request, call).then(
      (res) => cb(null, res),
      (err: unknown) => {
        log.warn(
          { rpc: name, peer: call.getPeer(), err: err instanceof Error ? err.message : String(err) },
          'request refused or failed',
        );
        cb(toServiceError(err));
      },
    );
  };
}

export function enrollmentService(trust: Trust, log: Logger): UntypedServiceImplementation {
  return {
    enroll: unary(log, 'Enroll', async (req: EnrollRequest) => {
      const claimed = parseHostId(req.hostId);
      if (!req.csrPem) throw invalid('the enrollment carries no CSR', 'send a PEM PKCS#10 request');
      const hostId = await trust.tokens.consume(req.joinToken, claimed);
      const reply = await issueHostCert(trust, hostId, req.csrPem);
      log.info({ hostId, serial: reply.serial }, 'host enrolled');
      return reply;
    }),
    renew: unary(log, 'Renew', async (req: RenewRequest, call) => {
      // The interceptor already checked role, expiry, revocation and that hostId is the caller's own.
      const id = identityOfPeer(call.getAuthContext()?.sslPeerCertificate);
      const reply = await issueHostCert(trust, id.name, req.csrPem);
      log.info({ hostId: id.name, old: id.serial, serial: reply.serial }, 'host certificate renewed');
      return reply;
    }),
  };
}
