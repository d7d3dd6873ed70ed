// Where deploy/dhcp-hook and deploy/dhcp-private-ns are: next to the sources (tsx) or the bundle (dist/).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { unsupported } from '../../common/errors.js';

export interface DhcpScripts {
  hook: string;
  privateNs: string;
}

export function findDhcpScripts(base: string = import.meta.url): DhcpScripts {
  for (const rel of ['../../deploy/', '../deploy/', '../../../deploy/']) {
    const dir = fileURLToPath(new URL(rel, base));
    if (existsSync(`${dir}dhcp-hook`) && existsSync(`${dir}dhcp-private-ns`))
      return { hook: `${dir}dhcp-hook`, privateNs: `${dir}dhcp-private-ns` };
  }
  throw unsupported(
    "fleetnet's DHCP hook script (deploy/dhcp-hook) is missing from this installation",
    'reinstall fleetnet; the deploy/ folder ships with the agent',
  );
}

/** A client program on this host's PATH (a plain look-up: running it to ask would start a client). */
export function findProgram(name: string, path: string = process.env.PATH ?? ''): string | undefined {
  const dirs = [...path.split(':').filter(Boolean), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const d of dirs) if (existsSync(`${d}/${name}`)) return `${d}/${name}`;
  return undefined;
}
