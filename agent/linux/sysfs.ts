// Facts about host interfaces read from sysfs: no process, no netlink round trip.
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';

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
  // DEVTYPE is set before the device registers; the bridge/ directory is added by a notifier just after.
  const kind: HostLinkKind =
    /^DEVTYPE=bridge$/m.test(read('uevent')) || existsSync(`${dir}/bridge`)
      ? 'bridge'
      : type === 32
        ? 'infiniband'
        : type === 1
          ? 'ether'
          : 'other';
  return { name, kind, mtu: Number(read('mtu')) || 1500, alias: read('ifalias'), mac: read('address') };
}

/** The alias fleetnet puts on what it creates on the host, so that it removes only its own. */
export const OWNED_ALIAS = 'fleetnet:owned';

function readSys(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** A Linux bridge's vlan_filtering switch (false when the bridge or the file is missing). */
export function bridgeVlanFiltering(bridge: string, sysClassNet = '/sys/class/net'): boolean {
  return readSys(`${sysClassNet}/${bridge}/bridge/vlan_filtering`) === '1';
}

/** The bridge a port is enslaved to, if any. */
export function masterOf(name: string, sysClassNet = '/sys/class/net'): string | undefined {
  try {
    return readlinkSync(`${sysClassNet}/${name}/master`).split('/').pop();
  } catch {
    return undefined;
  }
}

/**
 * pipework's `mac:HOSTMAC`: the host interface holding this MAC (bridges and VLAN children skipped when a plain NIC
 * also has it).
 */
export function findLinksByMac(mac: string, sysClassNet = '/sys/class/net'): string[] {
  let names: string[] = [];
  try {
    names = readdirSync(sysClassNet);
  } catch {
    return [];
  }
  return names.filter((n) => readSys(`${sysClassNet}/${n}/address`)?.toLowerCase() === mac.toLowerCase()).sort();
}

/**
 * A host-side port passes frames: a Linux bridge port forwarding (brport/state 3), any other link
 * operationally up. The kernel gets there after the link's carrier event (linkwatch), not at once.
 */
export function portForwarding(name: string, bridgePort: boolean, sysClassNet = '/sys/class/net'): boolean {
  return bridgePort
    ? readSys(`${sysClassNet}/${name}/brport/state`) === '3'
    : readSys(`${sysClassNet}/${name}/operstate`) === 'up';
}
