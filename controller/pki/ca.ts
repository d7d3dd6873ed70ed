// The fleet's certificate authority: one self-signed CA key, and certificates it issues for the
// controller, hosts (from their CSRs) and CLI users. Names come from fleetnet, never from a CSR.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from '../../common/pki/x509.js';
import { FleetnetError, invalid } from '../../common/errors.js';
import { CLOCK_SKEW_MS, normalizeSerial, type Role } from '../../common/pki/identity.js';
import {
  crypto,
  generateKeyPair,
  importPrivateKey,
  privateKeyPem,
  readText,
  SIGN_ALG,
  writeSecureFile,
} from '../../common/pki/keys.js';

export const CA_KEY = 'ca.key';
export const CA_CERT = 'ca.crt';
const DAY_MS = 86_400_000;

export interface IssuedCert {
  certPem: string;
  serial: string;
  notAfterMs: number;
}

export interface IssueOptions {
  role: Role;
  name: string;
  validityMs: number;
  /** Defaults to now; tests back-date certificates to make expired ones. */
  notBeforeMs?: number;
}

function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] ?? 0) & 0x7f; // positive INTEGER
  b[0] = (b[0] ?? 0) | 0x10; // and no leading zero byte, so every encoding agrees
  return b.toString('hex');
}

export class CertificateAuthority {
  private constructor(
    readonly cert: x509.X509Certificate,
    private readonly key: CryptoKey,
    readonly certPem: string,
  ) {}

  static exists(dir: string): boolean {
    return existsSync(join(dir, CA_KEY)) || existsSync(join(dir, CA_CERT));
  }

  /** Makes a new CA in dir (key 0600). Refuses to overwrite one. */
  static async create(dir: string, opts: { validityDays?: number; name?: string } = {}): Promise<CertificateAuthority> {
    if (CertificateAuthority.exists(dir)) {
      throw new FleetnetError('conflict', `a CA already exists in ${dir}`, {
        hint: 'keep it (every issued certificate depends on it), or choose another --dir',
      });
    }
    const keys = await generateKeyPair();
    const now = Date.now();
    const cert = await x509.X509CertificateGenerator.createSelfSigned(
      {
        serialNumber: randomSerial(),
        name: `CN=${opts.name ?? 'fleetnet CA'}, O=fleetnet`,
        notBefore: new Date(now - 60_000),
        notAfter: new Date(now + (opts.validityDays ?? 3650) * DAY_MS),
        keys,
        signingAlgorithm: SIGN_ALG,
        extensions: [
          new x509.BasicConstraintsExtension(true, 0, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
        ],
      },
      crypto,
    );
    const certPem = cert.toString('pem');
    writeSecureFile(join(dir, CA_KEY), await privateKeyPem(keys.privateKey), 0o600);
    writeSecureFile(join(dir, CA_CERT), certPem, 0o644);
    return new CertificateAuthority(cert, keys.privateKey, certPem);
  }

  static async load(dir: string): Promise<CertificateAuthority> {
    if (!existsSync(join(dir, CA_KEY)) || !existsSync(join(dir, CA_CERT))) {
      throw new FleetnetError('not_found', `no CA in ${dir}`, { hint: 'run: fleetnet controller init --dir ' + dir });
    }
    const certPem = readText(join(dir, CA_CERT));
    return new CertificateAuthority(
      new x509.X509Certificate(certPem),
      await importPrivateKey(readText(join(dir, CA_KEY))),
      certPem,
    );
  }

  /** Signs a certificate for a public key with fleetnet's names for the role. */
  async issueFor(publicKey: CryptoKey, o: IssueOptions): Promise<IssuedCert> {
    if (!(o.validityMs > 0))
      throw invalid(`certificate validity ${o.validityMs} ms is not positive`, 'give a validity above zero');
    const issuedAt = o.notBeforeMs ?? Date.now();
    const notBefore = o.notBeforeMs ?? issuedAt - CLOCK_SKEW_MS;
    const notAfterMs = issuedAt + o.validityMs;
    const usages =
      o.role === 'cli'
        ? [x509.ExtendedKeyUsage.clientAuth]
        : [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth];
    const serial = randomSerial();
    const cert = await x509.X509CertificateGenerator.create(
      {
        serialNumber: serial,
        subject: `CN=${o.name}, OU=${o.role}, O=fleetnet`,
        issuer: this.cert.subject,
        notBefore: new Date(notBefore),
        notAfter: new Date(notAfterMs),
        publicKey,
        signingKey: this.key,
        signingAlgorithm: SIGN_ALG,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
          new x509.ExtendedKeyUsageExtension(usages, false),
          new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: o.name }], false),
          await x509.AuthorityKeyIdentifierExtension.create(this.cert, false, crypto),
        ],
      },
      crypto,
    );
    return { certPem: cert.toString('pem'), serial: normalizeSerial(serial), notAfterMs };
  }

  /** Verifies a host's CSR (its signature proves it holds the key) and issues its certificate. */
  async issueFromCsr(csrPem: string, o: IssueOptions): Promise<IssuedCert> {
    let csr: x509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(csrPem);
    } catch (err) {
      throw new FleetnetError('invalid', 'the certificate request is not a PEM PKCS#10 CSR', {
        cause: err,
        hint: 'send the CSR the agent made',
      });
    }
    if (!(await csr.verify(crypto)))
      throw invalid("the certificate request's signature does not verify", 'make a new CSR with the key it names');
    return this.issueFor(await csr.publicKey.export(crypto), o);
  }

  /** A new key pair and its certificate (the controller's own and CLI users'). */
  async issueWithKey(o: IssueOptions): Promise<IssuedCert & { keyPem: string }> {
    const keys = await generateKeyPair();
    const issued = await this.issueFor(keys.publicKey, o);
    return { ...issued, keyPem: await privateKeyPem(keys.privateKey) };
  }
}
