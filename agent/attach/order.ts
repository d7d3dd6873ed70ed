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
  /** DHCP: write the lease's DNS servers into the container's resolv.conf. */
  dhcpDns?: boolean;
  /** DHCP: take one lease and stop the client (pipework's old behaviour). */
  dhcpOneshot?: boolean;
}

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
  return JSON.stringify({ hostIf: o.hostIf, kind: o.kind ?? '', addrs, mac, id: o.id ?? '', mtu: o.mtu ?? 0, hostIfname: o.hostIfname ?? '' });
}
