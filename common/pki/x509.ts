// @peculiar/x509, loaded only after the Reflect metadata it needs. A plain `export * from` would
// not do: ESM (and esbuild's bundle) evaluates static imports before this module's own body, so
// the library is required at run time, after the shim. Import x509 from here only.
import { createRequire } from 'node:module';
import './reflect-metadata.js';
import type * as X from '@peculiar/x509';

const lib = createRequire(import.meta.url)('@peculiar/x509') as typeof X;

export const {
  X509Certificate,
  X509CertificateGenerator,
  Pkcs10CertificateRequest,
  Pkcs10CertificateRequestGenerator,
  PemConverter,
  BasicConstraintsExtension,
  KeyUsagesExtension,
  KeyUsageFlags,
  SubjectKeyIdentifierExtension,
  ExtendedKeyUsageExtension,
  ExtendedKeyUsage,
  SubjectAlternativeNameExtension,
  AuthorityKeyIdentifierExtension,
} = lib;
export type X509Certificate = X.X509Certificate;
export type Pkcs10CertificateRequest = X.Pkcs10CertificateRequest;
