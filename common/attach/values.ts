// The attach contract's scalar value types and the one rule for each: parsed once at an edge
// (CLI words, proto message, container label), then carried as these types, never as text.
import { invalid } from '../errors.js';

export type { Cidr, IpAddr } from '../ip.js';
export type { Mac } from '../mac.js';
export type { IfName } from '../ifname.js';
export { parseIfName, parseNewIfName } from '../ifname.js';

/** An MTU in bytes, 68 (IPv4's minimum) to 65535. */
export type Mtu = number & { readonly __mtu: unique symbol };
/** An 802.1Q VLAN id, 1 to 4094. */
export type VlanId = number & { readonly __vlan: unique symbol };
/** An InfiniBand partition key, 0x0001 to 0xfffe. */
export type Pkey = number & { readonly __pkey: unique symbol };

export const MTU_MIN = 68;
export const MTU_MAX = 65535;

/** The MTU rule (the CLI's --mtu, the proto's mtu field, a network's MTU). */
export function parseMtu(v: string | number, what = 'MTU'): Mtu {
  const n = typeof v === 'number' ? v : /^\d{1,6}$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < MTU_MIN || n > MTU_MAX) {
    throw invalid(
      `${what} ${String(v)} is not an MTU (${MTU_MIN}-${MTU_MAX})`,
      'give the MTU in bytes, e.g. 1500 or 9000',
    );
  }
  return n as Mtu;
}

/** VLAN ids are decimal 1-4094; on an IPoIB parent (`ib*`) the id is a pkey in hex, as pipework reads it. */
export function parseVlanId(id: string): VlanId {
  if (!/^\d{1,4}$/.test(id) || Number(id) < 1 || Number(id) > 4094) {
    throw invalid(
      `VLAN id '${id}' is out of range`,
      'VLAN ids are decimal, 1 to 4094; leave the VLAN out for untagged traffic',
    );
  }
  return Number(id) as VlanId;
}

export function parsePkey(id: string): Pkey {
  const v = parseInt(id, 16);
  if (!/^[0-9a-fA-F]{1,4}$/.test(id) || v === 0 || v === 0xffff)
    throw invalid(`IPoIB pkey '${id}' is out of range (hex 1-fffe)`);
  return v as Pkey;
}

export const HOST_IF_KINDS = ['bridge', 'ovs', 'macvlan', 'ipoib', 'dummy'] as const;
export type HostIfKind = (typeof HOST_IF_KINDS)[number];

export function parseHostIfKind(k: string): HostIfKind {
  if (!(HOST_IF_KINDS as readonly string[]).includes(k))
    throw invalid(`unknown --kind '${k}'`, `use one of: ${HOST_IF_KINDS.join(', ')}`);
  return k as HostIfKind;
}

export const MACVLAN_MODES = ['bridge', 'private', 'vepa', 'passthru'] as const;
export type MacvlanMode = (typeof MACVLAN_MODES)[number];

export function parseMacvlanMode(m: string): MacvlanMode {
  if (!(MACVLAN_MODES as readonly string[]).includes(m))
    throw invalid(`unknown --macvlan-mode '${m}'`, `use one of: ${MACVLAN_MODES.join(', ')}`);
  return m as MacvlanMode;
}

export type OvsDatapath = 'system' | 'netdev';

export function parseOvsDatapath(d: string): OvsDatapath {
  if (d !== 'system' && d !== 'netdev') throw invalid(`unknown --ovs-datapath '${d}'`, 'use system or netdev');
  return d;
}

/** A client-chosen attachment id (the controller's are `fa-` + hex). */
export function parseAttachmentId(id: string): string {
  if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(id))
    throw invalid(`attachment id '${id}' is not valid`, 'use 1-128 letters, digits and _.:-');
  return id;
}
