// AgentTrust handlers: the controller asks, the agent renews its own certificate and switches
// to it live (new connections get the new certificate; the key never leaves the host).
import type { sendUnaryData, ServerUnaryCall, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { toServiceError } from '../../common/rpc/server.js';
import { identityOfPem, normalizeSerial } from '../../common/pki/identity.js';
import type { RevocationStore } from '../../common/pki/revocation.js';
import type { CredentialProvider } from '../../common/pki/tls.js';
import type { RevokeReply, RevokeRequest, RotateCertificateReply } from '../../proto/gen/fleetnet/v1/enroll.js';
import type { AgentTlsFiles } from './credentials.js';
import { renewCredential } from './enroll.js';

export function certNames(pem: string): { hostId: string; serial: string } {
  const c = identityOfPem(pem);
  return { hostId: c.name, serial: c.serial };
}

export function agentTrustService(d: {
  provider: CredentialProvider;
  files: AgentTlsFiles;
  revocations: RevocationStore;
  log: Logger;
}): UntypedServiceImplementation {
  return {
    rotateCertificate: (
      _call: ServerUnaryCall<unknown, RotateCertificateReply>,
      cb: sendUnaryData<RotateCertificateReply>,
    ) => {
      const old = certNames(d.provider.current.certPem);
      renewCredential(old.hostId, d.provider.current, d.files).then(
        ({ cred, reply }) => {
          d.provider.update(cred);
          d.log.info({ old: old.serial, serial: reply.serial }, 'certificate rotated');
          cb(null, { oldSerial: old.serial, newSerial: reply.serial, notAfterUnixMs: reply.notAfterUnixMs });
        },
        (err: unknown) => {
          d.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'certificate rotation failed');
          cb(toServiceError(err));
        },
      );
    },
    revoke: (call: ServerUnaryCall<RevokeRequest, RevokeReply>, cb: sendUnaryData<RevokeReply>) => {
      try {
        for (const serial of call.request.serials)
          d.revocations.revoke({ serial: normalizeSerial(serial), name: '', reason: 'pushed by the controller' });
        cb(null, { revoked: d.revocations.list().length });
      } catch (err) {
        cb(toServiceError(err));
      }
    },
  };
}
