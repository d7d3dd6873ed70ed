// The one proto codec of the attach contract: AttachSpec ⇄ AttachRequest (CLI → agent, controller →
// agent) and AttachSpec ⇄ FleetAttachRequest (CLI → controller). Decoding is the RPC edge: every
// rule is checked here, and a refusal becomes INVALID_ARGUMENT before anything is made.
import { invalid } from '../errors.js';
import { parseIfName, parseNewIfName } from '../ifname.js';
import { parseMac } from '../mac.js';
import type { AddressSpec as ProtoAddress, AttachRequest, Target } from '../../proto/gen/fleetnet/v1/agent.js';
import type { FleetAttachRequest } from '../../proto/gen/fleetnet/v1/controller.js';
import { parseDhcp, parseStaticAddress, type AddressSpec } from './address.js';
import { parseMacFields, type MacSpec } from './mac-spec.js';
import { checkSpec, type AttachSpec } from './spec.js';
import { parseTargetParts, type TargetRef } from './target.js';
import { parseAttachmentId, parseHostIfKind, parseMacvlanMode, parseMtu, parseOvsDatapath } from './values.js';

export function addressToProto(a: AddressSpec): ProtoAddress {
  if (a.kind === 'static') return { static: { cidr: a.cidr.text, gateway: a.gateway?.text ?? '' } };
  if (a.kind === 'dhcp') return { dhcp: { client: a.client, options: a.options } };
  return { none: true };
}

export function addressFromProto(a: ProtoAddress): AddressSpec {
  if (a.static) return parseStaticAddress(a.static.cidr, a.static.gateway);
  if (a.dhcp) return parseDhcp(a.dhcp.client, a.dhcp.options);
  if (a.none) return { kind: 'none' };
  throw invalid('an address entry is empty');
}

export function targetToProto(t: TargetRef): Target {
  return { kind: t.kind, value: t.value };
}

export function targetFromProto(t: Target | undefined): TargetRef {
  if (!t || !t.value) throw invalid('no container given');
  return parseTargetParts(t.kind, t.value);
}

function macFields(m: MacSpec): { mac: string; macString: string } {
  return { mac: m.kind === 'explicit' ? m.mac : '', macString: m.kind === 'string' ? m.source : '' };
}

/** The fields every attach message carries, decoded. */
function commonFromProto(r: {
  target?: Target | undefined;
  ifname: string;
  addresses: ProtoAddress[];
  mac: string;
  macString: string;
  vlan: string;
  mtu: number;
}): Pick<AttachSpec, 'target' | 'ifname' | 'addresses' | 'mac' | 'id' | 'mtu'> {
  return {
    target: targetFromProto(r.target),
    ...(r.ifname ? { ifname: parseNewIfName(r.ifname, 'container interface name') } : {}),
    addresses: r.addresses.map(addressFromProto),
    mac: parseMacFields(r.mac, r.macString),
    ...(r.vlan ? { id: r.vlan } : {}),
    ...(r.mtu ? { mtu: parseMtu(r.mtu) } : {}),
  };
}

export function attachRequestOf(s: AttachSpec): AttachRequest {
  return {
    keepAddress: false,
    hostIf: s.hostIfByMac ? `mac:${s.hostIfByMac}` : (s.hostIf ?? ''),
    kind: s.kind ?? '',
    target: targetToProto(s.target),
    ifname: s.ifname ?? '',
    hostIfname: s.hostIfname ?? '',
    addresses: s.addresses.map(addressToProto),
    ...macFields(s.mac),
    vlan: s.id ?? '',
    mtu: s.mtu ?? 0,
    dryRun: Boolean(s.dryRun),
    attachmentId: s.attachmentId ?? '',
    macvlanMode: s.macvlanMode ?? '',
    vlanFiltering: Boolean(s.vlanFiltering),
    trunk: s.trunk ?? '',
    ovsDatapath: s.ovsDatapath ?? '',
    dhcpDns: Boolean(s.dhcpDns),
    dhcpOneshot: Boolean(s.dhcpOneshot),
  };
}

export function attachSpecOfRequest(r: AttachRequest): AttachSpec {
  const byMac = r.hostIf.startsWith('mac:');
  return checkSpec({
    ...(r.hostIf && !byMac ? { hostIf: parseIfName(r.hostIf, 'host interface') } : {}),
    ...(byMac ? { hostIfByMac: parseMac(r.hostIf.slice(4)) } : {}),
    ...(r.kind ? { kind: parseHostIfKind(r.kind) } : {}),
    ...commonFromProto(r),
    ...(r.hostIfname ? { hostIfname: parseNewIfName(r.hostIfname, 'host-side interface name') } : {}),
    ...(r.dryRun ? { dryRun: true } : {}),
    ...(r.attachmentId ? { attachmentId: r.attachmentId } : {}),
    ...(r.macvlanMode ? { macvlanMode: parseMacvlanMode(r.macvlanMode) } : {}),
    ...(r.vlanFiltering ? { vlanFiltering: true } : {}),
    ...(r.trunk ? { trunk: parseIfName(r.trunk, 'trunk interface (--trunk)') } : {}),
    ...(r.ovsDatapath ? { ovsDatapath: parseOvsDatapath(r.ovsDatapath) } : {}),
    ...(r.dhcpDns ? { dhcpDns: true } : {}),
    ...(r.dhcpOneshot ? { dhcpOneshot: true } : {}),
  });
}

export function fleetAttachRequestOf(s: AttachSpec, f: { host: string; waitMs: number }): FleetAttachRequest {
  return {
    keepAddress: false,
    reserveOnly: false,
    host: f.host,
    network: s.net ?? '',
    target: targetToProto(s.target),
    ifname: s.ifname ?? '',
    addresses: s.addresses.map(addressToProto),
    ...macFields(s.mac),
    vlan: s.id ?? '',
    mtu: s.mtu ?? 0,
    attachmentId: s.attachmentId ?? '',
    waitMs: f.waitMs,
  };
}

export function attachSpecOfFleetRequest(r: FleetAttachRequest): AttachSpec & { host: string } {
  if (!r.host)
    throw invalid('no host given', 'say where the container runs: fleetnet attach --host H CONTAINER ADDRESS');
  const spec = checkSpec({
    ...commonFromProto(r),
    ...(r.network ? { net: r.network } : {}),
    ...(r.attachmentId ? { attachmentId: parseAttachmentId(r.attachmentId) } : {}),
  });
  return { ...spec, host: r.host };
}
