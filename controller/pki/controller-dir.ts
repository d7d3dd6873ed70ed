// The controller's trust folder (default /etc/fleetnet/controller, 0700):
//   ca.key ca.crt              the fleet CA (key 0600)
//   controller.key/.crt        the controller's own certificate (server and client)
//   cli/<user>.key/.crt        CLI credentials (the first one, "admin", made by init)
//   tokens/                    join tokens, hashed, one file each
//   certs/<host>.json          serials issued per host (so host rm can revoke them all), and
//   certs/cli:<user>.json      per CLI user (so controller cli-revoke can)
//   revoked.json               revoked serials
//   settings.json              lifetimes (see settings.ts)
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONTROLLER_NAME } from '../../common/pki/identity.js';
import { writeSecureFile } from '../../common/pki/keys.js';
import type { Credential } from '../../common/pki/tls.js';
import { CertificateAuthority, CA_CERT } from './ca.js';
import { FileJoinTokenStore, JoinTokens } from './join-tokens.js';
import { FileRevocationStore, type RevocationStore } from '../../common/pki/revocation.js';
import { loadPkiSettings, type PkiSettings } from './settings.js';
import { cliSubject, FileIssuedCerts, type IssuedCertsStore } from './issued-certs.js';

export const DEFAULT_CONTROLLER_DIR = '/etc/fleetnet/controller';

export const paths = (dir: string) => ({
  caCert: join(dir, CA_CERT),
  controllerKey: join(dir, 'controller.key'),
  controllerCert: join(dir, 'controller.crt'),
  cliKey: (user: string) => join(dir, 'cli', `${user}.key`),
  cliCert: (user: string) => join(dir, 'cli', `${user}.crt`),
  tokens: join(dir, 'tokens'),
  certs: join(dir, 'certs'),
  revoked: join(dir, 'revoked.json'),
  settings: join(dir, 'settings.json'),
});

export interface InitResult {
  dir: string;
  caCert: string;
  controllerCert: string;
  cliCert: string;
  cliKey: string;
}

/** `fleetnet controller init`: CA, the controller's certificate, and the first CLI credential. */
export async function initControllerDir(
  dir: string,
  opts: { settings?: Partial<PkiSettings>; cliUser?: string } = {},
): Promise<InitResult> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const now = Date.now();
  const ca = await CertificateAuthority.create(dir);
  const p = paths(dir);
  writeSecureFile(p.settings, JSON.stringify(opts.settings ?? {}, null, 1) + '\n', 0o600);
  const settings = loadPkiSettings(p.settings);
  const ctl = await ca.issueWithKey({
    role: 'controller',
    name: CONTROLLER_NAME,
    validityMs: settings.controllerCertValidityMs,
  });
  writeSecureFile(p.controllerKey, ctl.keyPem, 0o600);
  writeSecureFile(p.controllerCert, ctl.certPem, 0o644);
  const user = opts.cliUser ?? 'admin';
  const cli = await ca.issueWithKey({ role: 'cli', name: user, validityMs: settings.cliCertValidityMs });
  writeSecureFile(p.cliKey(user), cli.keyPem, 0o600);
  writeSecureFile(p.cliCert(user), cli.certPem, 0o644);
  // on record like every credential the controller issues, so `controller cli-revoke admin` finds it
  new FileIssuedCerts(p.certs).record(cliSubject(user), { serial: cli.serial, notAfterMs: cli.notAfterMs, atMs: now });
  mkdirSync(p.tokens, { recursive: true, mode: 0o700 });
  return { dir, caCert: p.caCert, controllerCert: p.controllerCert, cliCert: p.cliCert(user), cliKey: p.cliKey(user) };
}

/** Everything the controller needs to enroll, authorize and revoke, opened from its folder. */
export interface Trust {
  dir: string;
  ca: CertificateAuthority;
  settings: PkiSettings;
  tokens: JoinTokens;
  revocations: RevocationStore;
  issued: IssuedCertsStore;
  /** The controller's own credential (TLS server for CLI/agents, TLS client towards agents). */
  controllerCredential(): Credential;
}

export async function openTrust(dir: string, overrides: { joinTokenTtlMs?: number } = {}): Promise<Trust> {
  const ca = await CertificateAuthority.load(dir);
  const p = paths(dir);
  const settings = loadPkiSettings(p.settings);
  return {
    dir,
    ca,
    settings,
    tokens: new JoinTokens({
      store: new FileJoinTokenStore(p.tokens),
      ttlMs: overrides.joinTokenTtlMs ?? settings.joinTokenTtlMs,
    }),
    revocations: new FileRevocationStore(p.revoked),
    issued: new FileIssuedCerts(p.certs),
    controllerCredential: () => ({
      caPem: ca.certPem,
      certPem: readFileSync(p.controllerCert, 'utf8'),
      keyPem: readFileSync(p.controllerKey, 'utf8'),
    }),
  };
}

export function cliCredential(dir: string, user = 'admin'): Credential | undefined {
  const p = paths(dir);
  if (!existsSync(p.cliCert(user))) return undefined;
  return {
    caPem: readFileSync(p.caCert, 'utf8'),
    certPem: readFileSync(p.cliCert(user), 'utf8'),
    keyPem: readFileSync(p.cliKey(user), 'utf8'),
  };
}
