// TLS credentials for grpc-js. Servers request a client certificate but do not require one at
// the TLS layer (so Health and Enroll answer anyone); authorize.ts then decides per method on
// every call. One port serves both: one address to configure and firewall, as DESIGN.md's
// defaults (:7440, :7441) promise.
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { normalizeSerial } from './identity.js';
import {
  credentials,
  experimental,
  type ChannelCredentials,
  type ChannelOptions,
  type ServerCredentials,
} from '@grpc/grpc-js';

export interface Credential {
  caPem: string;
  certPem: string;
  keyPem: string;
}

type CaListener = experimental.CaCertificateUpdateListener;
type IdListener = experimental.IdentityCertificateUpdateListener;

/** Holds the current CA and identity in memory; `update` swaps them live (certificate rotation). */
export class CredentialProvider implements experimental.CertificateProvider {
  private readonly caListeners = new Set<CaListener>();
  private readonly idListeners = new Set<IdListener>();
  constructor(private cred: Credential) {}
  get current(): Credential {
    return this.cred;
  }
  update(cred: Credential): void {
    this.cred = cred;
    for (const l of this.caListeners) l({ caCertificate: Buffer.from(cred.caPem) });
    for (const l of this.idListeners)
      l({ certificate: Buffer.from(cred.certPem), privateKey: Buffer.from(cred.keyPem) });
  }
  addCaCertificateListener(l: CaListener): void {
    this.caListeners.add(l);
    // later, not now: grpc-js registers its own watcher only after adding this listener
    queueMicrotask(() => this.caListeners.has(l) && l({ caCertificate: Buffer.from(this.cred.caPem) }));
  }
  removeCaCertificateListener(l: CaListener): void {
    this.caListeners.delete(l);
  }
  addIdentityCertificateListener(l: IdListener): void {
    this.idListeners.add(l);
    queueMicrotask(
      () =>
        this.idListeners.has(l) &&
        l({ certificate: Buffer.from(this.cred.certPem), privateKey: Buffer.from(this.cred.keyPem) }),
    );
  }
  removeIdentityCertificateListener(l: IdListener): void {
    this.idListeners.delete(l);
  }
}

/** TLS server; client certificates requested, verified against the CA when sent, not required. */
export function serverCredentials(provider: CredentialProvider): ServerCredentials {
  // grpc-js names its parameters inconsistently; one provider serves both roles, so order is moot.
  return experimental.createCertificateProviderServerCredentials(provider, provider, false);
}

/**
 * TLS client pinned to the fleet CA; with a credential it presents a client certificate. With
 * isRevoked, a server whose certificate was revoked is refused as well.
 */
export function clientCredentials(
  caPem: string,
  own?: Pick<Credential, 'certPem' | 'keyPem'>,
  isRevoked?: (serial: string) => boolean,
): ChannelCredentials {
  const verify = isRevoked
    ? {
        checkServerIdentity: (host: string, cert: PeerCertificate) =>
          checkServerIdentity(host, cert) ??
          (isRevoked(normalizeSerial(cert.serialNumber))
            ? new Error(`the certificate of ${host} (serial ${normalizeSerial(cert.serialNumber)}) is revoked`)
            : undefined),
      }
    : undefined;
  return own
    ? credentials.createSsl(Buffer.from(caPem), Buffer.from(own.keyPem), Buffer.from(own.certPem), verify)
    : credentials.createSsl(Buffer.from(caPem), null, null, verify);
}

/**
 * Checks the server's certificate against the name it must carry (the host id of an agent, or
 * fleetnet-controller), whatever address is dialled.
 */
export function expectServerName(name: string): ChannelOptions {
  return { 'grpc.ssl_target_name_override': name, 'grpc.default_authority': name };
}
