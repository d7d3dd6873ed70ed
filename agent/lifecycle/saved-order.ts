// An attach order as it is kept in a record: JSON with the tokens it was parsed from, parsed again
// (at this boundary, the disk) when a container start re-applies it through the same attach path.
import {
  parseAddressToken,
  parseLast,
  type AddressSpec,
  type MacSpec,
  type TargetRef,
} from '../../common/attach-args.js';
import { parseIfName } from '../../common/ifname.js';
import type { AttachOrder, MacvlanMode } from '../attach/order.js';
import type { SavedOrder } from '../attach/records.js';
import type { ContainerInfo } from '../containers/types.js';

function addressToken(a: AddressSpec): string {
  if (a.kind === 'static') return a.gateway ? `${a.cidr.text}@${a.gateway.text}` : a.cidr.text;
  if (a.kind === 'dhcp') return a.options ? `${a.client}:${a.options}` : a.client;
  return '0/0';
}

function macToken(m: MacSpec): string {
  return m.kind === 'auto' ? '' : m.kind === 'string' ? `U:${m.source}` : m.mac;
}

export function saveOrder(o: AttachOrder, extra: { keepAddress?: boolean } = {}): SavedOrder {
  return {
    hostIf: o.hostIf,
    ...(o.kind ? { kind: o.kind } : {}),
    ifname: o.ifname,
    ...(o.hostIfname ? { hostIfname: o.hostIfname } : {}),
    addresses: o.addresses.map(addressToken),
    mac: macToken(o.mac),
    ...(o.id !== undefined ? { id: o.id } : {}),
    ...(o.mtu ? { mtu: o.mtu } : {}),
    ...(o.attachmentId ? { attachmentId: o.attachmentId } : {}),
    ...(o.macvlanMode ? { macvlanMode: o.macvlanMode } : {}),
    ...(o.vlanFiltering ? { vlanFiltering: true } : {}),
    ...(o.trunk ? { trunk: o.trunk } : {}),
    ...(o.ovsDatapath ? { ovsDatapath: o.ovsDatapath } : {}),
    ...(o.dhcpDns ? { dhcpDns: true } : {}),
    ...(o.dhcpOneshot ? { dhcpOneshot: true } : {}),
    ...(extra.keepAddress ? { keepAddress: true } : {}),
  };
}

/** The target that finds the same container again after a restart: its identity, not the name it was given. */
export function identityTarget(c: Pick<ContainerInfo, 'runtime' | 'id'>): TargetRef {
  switch (c.runtime) {
    case 'docker':
      return { kind: 'docker', value: c.id };
    case 'lxc':
      return { kind: 'lxc', value: c.id };
    case 'pid':
      return { kind: 'pid', value: c.id };
    case 'netns':
      return c.id.startsWith('/') ? { kind: 'path', value: c.id } : { kind: 'netns', value: c.id };
  }
}

export function loadOrder(s: SavedOrder, target: TargetRef): AttachOrder {
  const mac: MacSpec = s.mac ? parseLast(s.mac).mac : { kind: 'auto' };
  return {
    hostIf: parseIfName(s.hostIf, 'host interface'),
    ...(s.kind ? { kind: s.kind } : {}),
    target,
    ifname: parseIfName(s.ifname, 'container interface name'),
    ...(s.hostIfname ? { hostIfname: parseIfName(s.hostIfname, 'host-side name') } : {}),
    addresses: s.addresses.map(parseAddressToken),
    mac,
    ...(s.id !== undefined ? { id: s.id } : {}),
    ...(s.mtu ? { mtu: s.mtu } : {}),
    dryRun: false,
    ...(s.attachmentId ? { attachmentId: s.attachmentId } : {}),
    ...(s.macvlanMode ? { macvlanMode: s.macvlanMode as MacvlanMode } : {}),
    ...(s.vlanFiltering ? { vlanFiltering: true } : {}),
    ...(s.trunk ? { trunk: parseIfName(s.trunk, 'trunk') } : {}),
    ...(s.ovsDatapath ? { ovsDatapath: s.ovsDatapath } : {}),
    ...(s.dhcpDns ? { dhcpDns: true } : {}),
    ...(s.dhcpOneshot ? { dhcpOneshot: true } : {}),
  };
}
