// The CLI's credential towards the controller (mutual TLS), found in this order:
//   1. FLEETNET_TLS_DIR, or ~/.config/fleetnet/: ca.crt, cli.crt, cli.key
//   2. the controller's own folder on the controller machine (root): /etc/fleetnet/controller,
//      ca.crt and cli/admin.crt + .key as `fleetnet controller init` made them
// No grpc-js here: the CLI's client (grpc-h2, on node:http2) dials with these files itself.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { FleetnetError } from '../../common/errors.js';
import type { Credential } from '../../common/pki/tls.js';

/** How to get a CLI credential (said wherever one is missing). */
export const CREDENTIAL_HINT =
  "copy ca.crt, cli/admin.crt and cli/admin.key from the controller's /etc/fleetnet/controller to " +
  '~/.config/fleetnet/ as ca.crt, cli.crt, cli.key (or set FLEETNET_TLS_DIR to a folder holding them)';

export function cliCredentialFiles(
  env: NodeJS.ProcessEnv = process.env,
  home = homedir(),
): { ca: string; cert: string; key: string }[] {
  const user = env.FLEETNET_TLS_DIR ?? join(home, '.config', 'fleetnet');
  const ctl = env.FLEETNET_CONTROLLER_DIR ?? '/etc/fleetnet/controller';
  return [
    { ca: join(user, 'ca.crt'), cert: join(user, 'cli.crt'), key: join(user, 'cli.key') },
    { ca: join(ctl, 'ca.crt'), cert: join(ctl, 'cli', 'admin.crt'), key: join(ctl, 'cli', 'admin.key') },
  ];
}

export function findCliCredential(env: NodeJS.ProcessEnv = process.env, home = homedir()): Credential {
  const places = cliCredentialFiles(env, home);
  const found = places.find((p) => existsSync(p.ca) && existsSync(p.cert) && existsSync(p.key));
  if (!found) {
    throw new FleetnetError(
      'permission',
      `no CLI credential for the controller (looked in ${places.map((p) => p.cert).join(', ')})`,
      { hint: CREDENTIAL_HINT },
    );
  }
  return {
    caPem: readFileSync(found.ca, 'utf8'),
    certPem: readFileSync(found.cert, 'utf8'),
    keyPem: readFileSync(found.key, 'utf8'),
  };
}

/** The credential, or undefined when there is none (the controller then gets plain TCP). */
export function tryCliCredential(env: NodeJS.ProcessEnv = process.env, home = homedir()): Credential | undefined {
  try {
    return findCliCredential(env, home);
  } catch {
    return undefined;
  }
}
