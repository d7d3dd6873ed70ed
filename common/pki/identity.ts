// Who a certificate speaks for. fleetnet sets these names itself when it issues a certificate
// (never copied from a CSR): subject OU = role, CN = name, and a DNS SAN = name so that TLS
// server-name checks work with `grpc.ssl_target_name_override`.
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { FleetnetError, invalid } from '../errors.js';

export type Role = 'controller' | 'host' | 'cli';
export const ROLES: readonly Role[] = ['controller', 'host', 'cli'];

/** Certificates start this much before they are issued, so a host whose clock lags accepts them. */
export const CLOCK_SKEW_MS = 60_000;

/** The TLS name of the controller: agents and the CLI verify the controller's certificate by it. */
export const CONTROLLER_NAME = 'fleetnet-controller';

export interface Identity {
  role: Role;
  name: string;
  /** Lower-case hex, no leading zeros: how revocation stores name a certificate. */
  serial: string;
  notAfterMs: number;
  notBeforeMs: number;
}

// A host id is a DNS label chain: it becomes a DNS SAN and a file name.
const HOST_ID = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** A DNS name, or the error that names what it was for (`what`) and how one looks (`becomes`, `eg`). */
function dnsName(s: string, what: string, becomes: string, eg: string): string {
  if (s.length > 253 || !HOST_ID.test(s))
    throw invalid(`${what} "${s}" is not usable`, `use lower-case letters, digits, "-" and "."${becomes}, e.g. ${eg}`);
  return s;
}

export const parseHostId = (s: string): string => dnsName(s, 'host id', ' (a DNS name)', 'h3 or web-1.dc2');

/** A CLI user's name: checked as a host id is (it becomes the certificate's CN, DNS SAN and a file name). */
export const parseCliUser = (s: string): string =>
  dnsName(s, 'CLI user name', " (it becomes the certificate's name)", 'alice or ci-bot');

export function normalizeSerial(hex: string): string {
  const s = hex
    .replace(/[^0-9a-fA-F]/g, '')
    .toLowerCase()
    .replace(/^0+/, '');
  return s === '' ? '0' : s;
}

/** A serial typed by a person (hex, colons allowed, as openssl prints it), normalised. */
export function parseSerial(s: string): string {
  if (!/^[0-9a-fA-F]+(:[0-9a-fA-F]+)*$/.test(s))
    throw invalid(
      `serial "${s}" is not a certificate serial`,
      'give it in hex, as openssl x509 -noout -serial -in cli.crt prints it after serial=',
    );
  return normalizeSerial(s);
}

const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

/** Reads the identity out of a verified peer certificate; refuses anything fleetnet did not issue. */
export function identityOfPeer(cert: PeerCertificate | undefined): Identity {
  if (!cert || !cert.raw)
    throw new FleetnetError('permission', 'no client certificate', {
      hint: "connect with a certificate issued by this fleet's controller (fleetnet controller init, host add)",
    });
  const role = first(cert.subject?.OU);
  const name = first(cert.subject?.CN);
  if (!role || !(ROLES as readonly string[]).includes(role) || !name) {
    throw new FleetnetError('permission', 'the client certificate names no fleetnet role', {
      hint: 'use a certificate issued by fleetnet',
    });
  }
  return {
    role: role as Role,
    name,
    serial: normalizeSerial(cert.serialNumber),
    notAfterMs: Date.parse(cert.valid_to),
    notBeforeMs: Date.parse(cert.valid_from),
  };
}

/**
 * The identity in a PEM certificate (an agent's own: when to renew it, its host id, its serial), read with Node's
 * X509Certificate: a running agent does not load @peculiar/x509 for it (keys.ts loads that to make keys and CSRs).
 */
export function identityOfPem(pem: string): Identity {
  return identityOfPeer(new X509Certificate(pem).toLegacyObject());
}
