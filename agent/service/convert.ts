// Proto types stop here: requests become domain orders, records become proto interfaces.
import { parseAddressToken, parseLast, parsePkey, parseTarget, parseVlanId, type AddressSpec, type MacSpec, type TargetRef } from '../../common/attach-args.js';
import { existsSync } from 'node:fs';
import { FleetnetError, invalid, notFound } from '../../common/errors.js';
import { parseMac } from '../../common/mac.js';
import { findLinksByMac } from '../linux/sysfs.js';
import { parseIfName, type IfName } from '../../common/ifname.js';
import type { AttachRequest, DetachRequest, Interface, Target } from '../../proto/gen/fleetnet/v1/agent.js';
import { MACVLAN_MODES, type AttachOrder, type DetachOrder, type HostIfKind, type MacvlanMode } from '../attach/order.js';
import type { AttachmentRecord } from '../attach/records.js';
import type { Lease } from '../dhcp/types.js';

const KINDS = new Set<HostIfKind>(['bridge', 'ovs', 'macvlan', 'ipoib', 'dummy']);

export function targetFromProto(t: Target | undefined): TargetRef {
  if (!t || !t.value) throw invalid('no container given');
  const ref = parseTarget(t.kind && t.kind !== 'auto' && t.kind !== 'path' ? `${t.kind}:${t.value}` : t.value);
  return ref;
}

export function attachOrderFromProto(r: AttachRequest, sysClassNet?: string): AttachOrder {
  if (!r.hostIf) throw invalid('no host interface given', 'name a bridge, e.g. fleetnet attach br1 web1 10.1.1.5/24');
  const hostIf = r.hostIf.startsWith('mac:') ? hostIfByMac(r.hostIf.slice(4), sysClassNet) : parseIfName(r.hostIf, 'host interface');
  if (r.kind && !KINDS.has(r.kind as HostIfKind)) throw invalid(`unknown --kind '${r.kind}'`, `use one of: ${[...KINDS].join(', ')}`);
  const addresses: AddressSpec[] = r.addresses.map((a) => {
    if (a.static) return parseAddressToken(a.static.gateway ? `${a.static.cidr}@${a.static.gateway}` : a.static.cidr);
    if (a.dhcp) return parseAddressToken(a.dhcp.options ? `${a.dhcp.client}:${a.dhcp.options}` : a.dhcp.client);
    if (a.none) return { kind: 'none' };
    throw invalid('an address entry is empty');
  });
  if (addresses.length === 0) throw invalid('no address given', 'give an address like 10.1.1.5/24, or 0/0 for none');
  if (addresses.some((a) => a.kind === 'none') && addresses.length > 1) throw invalid('0/0 means no address; it cannot be combined with other addresses');
  let mac: MacSpec = { kind: 'auto' };
  if (r.mac && r.macString) throw invalid('give either a MAC or U:string, not both');
  if (r.mac) mac = parseLast(r.mac).mac;
  if (r.macString) mac = parseLast(`U:${r.macString}`).mac;
  const isIb = r.kind === 'ipoib' || hostIf.startsWith('ib');
  if (r.vlan) {
    if (isIb) parsePkey(r.vlan);
    else parseVlanId(r.vlan);
  }
  if (r.mtu && (r.mtu < 68 || r.mtu > 65535)) throw invalid(`MTU ${r.mtu} is out of range (68-65535)`);
  return {
    hostIf,
    ...(r.kind ? { kind: r.kind as HostIfKind } : {}),
    target: targetFromProto(r.target),
    ifname: parseIfName(r.ifname || (isIb ? 'ib0' : 'eth1'), 'container interface name'),
    ...(r.hostIfname ? { hostIfname: parseIfName(r.hostIfname, 'host-side interface name') } : {}),
    addresses,
    mac,
    ...(r.vlan ? { id: r.vlan } : {}),
    ...(r.mtu ? { mtu: r.mtu } : {}),
    dryRun: r.dryRun,
    ...(r.dhcpDns ? { dhcpDns: true } : {}),
    ...(r.dhcpOneshot ? { dhcpOneshot: true } : {}),
    ...(r.attachmentId ? { attachmentId: r.attachmentId } : {}),
    ...parityOptions(r),
  };
}

/** pipework's `mac:HOSTMAC`: the one host interface holding that MAC. */
function hostIfByMac(text: string, sysClassNet?: string): IfName {
  const mac = parseMac(text);
  const names = findLinksByMac(mac, sysClassNet);
  if (names.length === 0) throw notFound(`no host interface has MAC ${mac}`, "'ip link' shows the MACs of this host's interfaces");
  // A NIC and the VLAN children or bridges made on it share its MAC: prefer the one that is none of those.
  const plain = names.filter((n) => !n.includes('.') && !existsSync(`${sysClassNet ?? '/sys/class/net'}/${n}/bridge`));
  if (plain.length === 1) return parseIfName(plain[0]!, 'host interface');
  if (names.length === 1) return parseIfName(names[0]!, 'host interface');
  throw new FleetnetError('ambiguous', `MAC ${mac} is held by more than one host interface: ${names.join(', ')}`, { hint: 'name the interface instead of mac:…' });
}

function parityOptions(r: AttachRequest): Partial<AttachOrder> {
  if (r.macvlanMode && !(MACVLAN_MODES as readonly string[]).includes(r.macvlanMode)) {
    throw invalid(`unknown --macvlan-mode '${r.macvlanMode}'`, `use one of: ${MACVLAN_MODES.join(', ')}`);
  }
  if (r.ovsDatapath && r.ovsDatapath !== 'system' && r.ovsDatapath !== 'netdev') throw invalid(`unknown --ovs-datapath '${r.ovsDatapath}'`, 'use system or netdev');
  return {
    ...(r.macvlanMode ? { macvlanMode: r.macvlanMode as MacvlanMode } : {}),
    ...(r.vlanFiltering ? { vlanFiltering: true } : {}),
    ...(r.trunk ? { trunk: parseIfName(r.trunk, 'trunk interface (--trunk)') } : {}),
    ...(r.ovsDatapath ? { ovsDatapath: r.ovsDatapath as 'system' | 'netdev' } : {}),
  };
}

export function detachOrderFromProto(r: DetachRequest): DetachOrder {
  return {
    target: targetFromProto(r.target),
    ifname: parseIfName(r.ifname || 'eth1', 'container interface name'),
    ...(r.attachmentId ? { attachmentId: r.attachmentId } : {}),
  };
}

export function leaseToProto(l: Lease | undefined): Interface['lease'] {
  if (!l) return undefined;
  return { address: l.address, router: l.router, dns: l.dns, leaseSeconds: l.leaseSeconds, expiresUnixMs: l.expiresUnixMs, clientPid: l.clientPid, client: l.client };
}

export function interfaceToProto(r: AttachmentRecord, state = 'up', lease?: Lease): Interface {
  return {
    attachmentId: r.attachmentId,
    container: { runtime: r.container.runtime, id: r.container.id, name: r.container.name, pid: r.container.pid, netns: r.container.netns },
    ifname: r.ifname,
    hostIfname: r.hostIfname,
    hostIf: r.hostIf,
    kind: r.kind,
    mac: r.mac,
    addresses: r.addresses,
    gateways: r.gateways,
    mtu: r.mtu,
    vlan: r.vlan,
    lease: leaseToProto(lease),
    state,
    attempts: r.attempts ?? 0,
    lastError: r.lastError ?? '',
    keepAddress: !!r.order?.keepAddress,
  };
}
