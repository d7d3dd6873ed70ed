// Keys, CSRs and PEM with @peculiar/x509 on Node's WebCrypto. ECDSA P-256 throughout: small,
// fast, and understood by Node's TLS. The library is loaded by the first call that needs it (an agent that only
// runs reads its certificate with identityOfPem, identity.ts, and never loads it).
import { webcrypto } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
const lib = () => import('./x509.js');

export const crypto = webcrypto as unknown as Crypto;
export const KEY_ALG = { name: 'ECDSA', namedCurve: 'P-256' } as const;
export const SIGN_ALG = { name: 'ECDSA', hash: 'SHA-256' } as const;

export function generateKeyPair(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(KEY_ALG, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

export async function privateKeyPem(key: CryptoKey): Promise<string> {
  const [der, x509] = await Promise.all([crypto.subtle.exportKey('pkcs8', key), lib()]);
  return x509.PemConverter.encode(der, 'PRIVATE KEY');
}

export async function importPrivateKey(pem: string): Promise<CryptoKey> {
  const der = (await lib()).PemConverter.decode(pem)[0];
  if (!der) throw new Error('no PEM block in the key file');
  return crypto.subtle.importKey('pkcs8', der, KEY_ALG, true, ['sign']);
}

/** A CSR for a fresh key; the name is only a hint: the controller sets the real names. */
export async function makeCsr(keys: CryptoKeyPair, name: string): Promise<string> {
  const x509 = await lib();
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    { name: `CN=${name}`, keys, signingAlgorithm: SIGN_ALG },
    crypto,
  );
  return csr.toString('pem');
}

/** Writes a file atomically (temp + rename) with the given mode; keys get 0600. */
export function writeSecureFile(path: string, data: string, mode = 0o600): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}
