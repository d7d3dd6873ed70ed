// AttachSpec: one attach as value types, the same on every tier (CLI, controller, agent). Built
// by an edge parser (words.ts for CLI words and container labels, codec.ts for proto messages);
// checkSpec holds the rules that tie fields together.
import { invalid } from '../errors.js';
import type { IfName } from '../ifname.js';
import type { Mac } from '../mac.js';
import { checkAddressList, type AddressSpec } from './address.js';
import type { MacSpec } from './mac-spec.js';
import type { TargetRef } from './target.js';
import { parsePkey, parseVlanId, type HostIfKind, type MacvlanMode, type Mtu, type OvsDatapath } from './values.js';

export interface AttachSpec {
  /** The bridge, OVS bridge, parent NIC or ib* device; absent when the controller picks it from the network. */
  hostIf?: IfName;
  /** pipework's `mac:HOSTMAC`: the host interface holding this MAC (the agent finds it). */
  hostIfByMac?: Mac;
  /** What the host interface is or should be made; absent: decided by what exists and its name. */
  kind?: HostIfKind;
  target: TargetRef;
  /** Inside the container; absent: eth1 (ib0 on an IPoIB parent). */
  ifname?: IfName;
  /** Host side; absent: derived from stable ids. */
  hostIfname?: IfName;
  addresses: AddressSpec[];
  mac: MacSpec;
  /** `@ID` as typed and checked: a VLAN id (decimal), or on an IPoIB parent a pkey (hex). */
  id?: string;
  mtu?: Mtu;
  /** The fleet network (through the controller). */
  net?: string;
  macvlanMode?: MacvlanMode;
  /** Linux bridge: allow turning vlan_filtering on a bridge fleetnet did not create. */
  vlanFiltering?: boolean;
  /** Linux bridge: an uplink port that carries the VLAN tagged. */
  trunk?: IfName;
  ovsDatapath?: OvsDatapath;
  /** DHCP: write the lease's DNS servers into the container's resolv.conf. */
  dhcpDns?: boolean;
  /** DHCP: take one lease and stop the client (pipework's old behaviour). */
  dhcpOneshot?: boolean;
  dryRun?: boolean;
  attachmentId?: string;
}

/** An IPoIB parent reads `@ID` as a pkey in hex; everything else as a decimal VLAN id. */
export function isIpoibParent(s: Pick<AttachSpec, 'kind' | 'hostIf'>): boolean {
  return s.kind === 'ipoib' || (s.kind === undefined && (s.hostIf?.startsWith('ib') ?? false));
}

/** `@ID` checked against what the host interface is. */
export function checkId(id: string | undefined, ipoib: boolean): void {
  if (id === undefined) return;
  if (ipoib) parsePkey(id);
  else parseVlanId(id);
}

/** The rules across fields, the same at every edge. */
export function checkSpec(s: AttachSpec): AttachSpec {
  if (s.hostIf === 'lo')
    throw invalid(
      "'lo' is the loopback interface: no container interface can hang off it",
      'name a Linux bridge (br*), an Open vSwitch bridge (ovs*), a NIC, an ib* device or dummy',
    );
  if (s.ifname === 'lo')
    throw invalid(
      "every container already has 'lo', its loopback interface",
      'name the new interface something else with -i, e.g. eth1',
    );
  checkAddressList(s.addresses);
  // Given by mac:, the host interface is known only once the agent finds it: it checks @ID then.
  if (!s.hostIfByMac || s.kind) checkId(s.id, isIpoibParent(s));
  if (s.hostIf && s.hostIfByMac) throw invalid('give the host interface by name or by mac:, not both');
  if (s.hostIf && s.net)
    throw invalid('--net and a host interface do not go together', 'the network says which bridge to use');
  return s;
}
