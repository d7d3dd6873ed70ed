// What a running agent reads from its own certificate (when to renew it, its host id and serial), with Node's own
// X509Certificate: @peculiar/x509 (about 10 MB of an agent's memory with its ASN.1 stack) is loaded only when a key
// or a CSR is made (keys.ts), not by every agent for as long as it runs.
import { X509Certificate } from 'node:crypto';
import { normalizeSerial } from './identity.js';

export interface CertFacts {
  /** The subject's common name: a host id for a host certificate. */
  cn: string;
  /** Lower-case hex without leading zeros (normalizeSerial), as the revocation lists hold it. */
  serial: string;
  notBeforeMs: number;
  notAfterMs: number;
}

export function certFacts(pem: string): CertFacts {
  const c = new X509Certificate(pem);
  // Node prints the subject one attribute per line (`OU=host\nCN=h3`)
  const cn = /^CN=(.*)$/m.exec(c.subject)?.[1] ?? '';
  return {
    cn,
    serial: normalizeSerial(c.serialNumber),
    notBeforeMs: c.validFromDate.getTime(),
    notAfterMs: c.validToDate.getTime(),
  };
}
