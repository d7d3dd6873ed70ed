// A fleet CA in a temporary folder, the credentials the trust tests present, and a way to call a
// controller handler (the Admin service's) directly, as a given client certificate.
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Role } from '../../common/pki/identity.js';
import type { Credential } from '../../common/pki/tls.js';
import { CertificateAuthority } from '../../controller/pki/ca.js';
import { initControllerDir, openTrust, type Trust } from '../../controller/pki/controller-dir.js';

export interface TestFleet {
  dir: string;
  trust: Trust;
  /** A credential of this fleet for any role; back-dated when expired. */
  cred(role: Role, name: string, o?: { expired?: boolean }): Promise<Credential & { serial: string }>;
  /** A credential for the same names from a CA this fleet does not know. */
  foreign(role: Role, name: string): Promise<Credential>;
  cleanup(): void;
}

export async function makeTestFleet(settings: Record<string, number> = {}): Promise<TestFleet> {
  const dir = mkdtempSync(join(tmpdir(), 'fleetnet-trust-'));
  await initControllerDir(join(dir, 'ctl'), { settings });
  const trust = await openTrust(join(dir, 'ctl'));
  const other = await CertificateAuthority.create(join(dir, 'other-ca'));
  const HOUR = 3_600_000;
  return {
    dir,
    trust,
    async cred(role, name, o = {}) {
      const i = await trust.ca.issueWithKey({
        role,
        name,
        validityMs: HOUR,
        ...(o.expired ? { notBeforeMs: Date.now() - 2 * HOUR } : {}),
      });
      return { caPem: trust.ca.certPem, certPem: i.certPem, keyPem: i.keyPem, serial: i.serial };
    },
    async foreign(role, name) {
      const i = await other.issueWithKey({ role, name, validityMs: HOUR });
      return { caPem: trust.ca.certPem, certPem: i.certPem, keyPem: i.keyPem };
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Calls one unary handler as grpc-js would (no deadline, never cancelled), by the client certificate `peerPem`. */
export function callHandler<Res>(
  impl: Record<string, unknown>,
  method: string,
  request: object,
  peerPem?: string,
): Promise<Res> {
  type Err = { details?: string; metadata?: { get(k: string): unknown[] } } | null;
  const h = impl[method] as (c: object, cb: (err: Err, res: Res) => void) => void;
  const sslPeerCertificate = peerPem && new X509Certificate(peerPem).toLegacyObject();
  return new Promise((resolve, reject) =>
    h({ request, on() {}, getDeadline: () => Infinity, getAuthContext: () => ({ sslPeerCertificate }) }, (err, res) => {
      if (!err) return resolve(res);
      const hint = err.metadata?.get('fleetnet-hint-bin')[0];
      const kind = String(err.metadata?.get('fleetnet-kind')[0] ?? '');
      reject(Object.assign(new Error(err.details), { kind, hint: hint ? String(hint) : undefined }));
    }),
  );
}
