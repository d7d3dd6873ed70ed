// Facts about host interfaces read from sysfs: no process, no netlink round trip.
import { existsSync, readFileSync } from 'node:fs';

export type HostLinkKind = 'bridge' | 'infiniband' | 'ether' | 'other';

export interface HostLink {
  name: string;
  kind: HostLinkKind;
  mtu: number;
  alias: string;
  mac: string;
}

export function readHostLink(name: string, sysClassNet = '/sys/class/net'): HostLink | undefined {
  const dir = `${sysClassNet}/${name}`;
  if (!existsSync(dir)) return undefined;
  const read = (f: string) => {
    try {
      return readFileSync(`${dir}/${f}`, 'utf8').trim();
    } catch {
      return '';
    }
  };
  const type = Number(read('type'));
  const kind: HostLinkKind = existsSync(`${dir}/bridge`) ? 'bridge' : type === 32 ? 'infiniband' : type === 1 ? 'ether' : 'other';
  return { name, kind, mtu: Number(read('mtu')) || 1500, alias: read('ifalias'), mac: read('address') };
}

/** The alias fleetnet puts on what it creates on the host, so that it removes only its own. */
export const OWNED_ALIAS = 'fleetnet:owned';
