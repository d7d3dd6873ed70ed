// `<if>.<VID>` 8021q children: made (and marked as fleetnet's) when absent, reused when found.
import { parseVlanId } from '../../common/attach/index.js';
import { parseIfName, type IfName } from '../../common/ifname.js';
import type { LinkOp } from '../linux/link-ops.js';
import { OWNED_ALIAS } from '../linux/sysfs.js';

/** pipework's name for the VLAN child of a NIC; it must still fit in 15 bytes. */
export function vlanLinkName(parent: string, vid: string): IfName {
  const n = parseVlanId(vid);
  return parseIfName(`${parent}.${n}`, `VLAN interface name for ${parent} VLAN ${n}`);
}

/** The operations that make the VLAN child, mark it as fleetnet's and bring it up. */
export function vlanLinkOps(parent: string, name: string, vid: number): LinkOp[] {
  return [
    { t: 'vlan', name, link: parent, id: vid },
    { t: 'set', name, alias: OWNED_ALIAS },
    { t: 'set', name, up: true },
  ];
}
