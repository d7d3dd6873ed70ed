// The domain form of an attach: parsed and validated once, at the service edge.
import type { AddressSpec, MacSpec, TargetRef } from '../../common/attach-args.js';
import type { IfName } from '../../common/ifname.js';

export type HostIfKind = 'bridge' | 'ovs' | 'macvlan' | 'ipoib' | 'dummy';

export interface AttachOrder {
  hostIf: IfName;
  /** What the user asked the host interface to be; undefined: decided by what exists and its name. */
  kind?: HostIfKind;
  target: TargetRef;
  ifname: IfName;
  hostIfname?: IfName;
  addresses: AddressSpec[];
  mac: MacSpec;
  id?: string;
  mtu?: number;
  dryRun: boolean;
  attachmentId?: string;
  /** macvlan: bridge (default) | private | vepa | passthru. */
  macvlanMode?: MacvlanMode;
  /** Linux bridge: allow turning vlan_filtering on a bridge fleetnet did not create. */
  vlanFiltering?: boolean;
  /** Linux bridge: an uplink port that carries the VLAN tagged. */
  trunk?: IfName;
  /** OVS bridge fleetnet creates: system (default of the agent) or netdev (user space). */
  ovsDatapath?: 'system' | 'netdev';
  /** DHCP: write the lease's DNS servers into the container's resolv.conf. */
  dhcpDns?: boolean;
  /** DHCP: take one lease and stop the client (pipework's old behaviour). */
  dhcpOneshot?: boolean;
}

export const MACVLAN_MODES = ['bridge', 'private', 'vepa', 'passthru'] as const;
export type MacvlanMode = (typeof MACVLAN_MODES)[number];

export interface DetachOrder {
  target: TargetRef;
  ifname: IfName;
  attachmentId?: string;
}

/** What must be equal for a repeated attach to be "the same request". */
export function orderFingerprint(o: AttachOrder): string {
  const addrs = o.addresses
    .map((a) => (a.kind === 'static' ? `${a.cidr.text}@${a.gateway?.text ?? ''}` : a.kind === 'dhcp' ? `dhcp:${a.client}:${a.options}` : 'none'))
    .sort();
  const mac = o.mac.kind === 'auto' ? 'auto' : o.mac.mac;
  // Options added later enter the fingerprint only when set, so that older records keep matching.
  const extra = {
    ...(o.macvlanMode ? { macvlanMode: o.macvlanMode } : {}),
    ...(o.vlanFiltering ? { vlanFiltering: true } : {}),
    ...(o.trunk ? { trunk: o.trunk } : {}),
    ...(o.ovsDatapath ? { ovsDatapath: o.ovsDatapath } : {}),
  };
  return JSON.stringify({ hostIf: o.hostIf, kind: o.kind ?? '', addrs, mac, id: o.id ?? '', mtu: o.mtu ?? 0, hostIfname: o.hostIfname ?? '', ...extra });
}
