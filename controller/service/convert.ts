// Proto types stop here: controller requests become domain inputs, records become proto messages.
import { parseAddressToken, parseLast, parseVlanId, type AddressSpec, type MacSpec } from '../../common/attach-args.js';
import { invalid } from '../../common/errors.js';
import { parseIfName } from '../../common/ifname.js';
import type { AddressSpec as ProtoAddressSpec } from '../../proto/gen/fleetnet/v1/agent.js';
import type { Attachment, FleetAttachRequest, Host, Network } from '../../proto/gen/fleetnet/v1/controller.js';
import { targetFromProto } from '../../agent/service/convert.js';
import type { FleetAttachInput } from '../fleet/attachments.js';
import type { NetworkInput } from '../ipam/network-spec.js';
import type { AttachmentRecord, HostRecord, NetworkRecord } from '../store/types.js';
import { attachmentView } from '../store/view.js';

export function addressFromProto(a: ProtoAddressSpec): AddressSpec {
  if (a.static) return parseAddressToken(a.static.gateway ? `${a.static.cidr}@${a.static.gateway}` : a.static.cidr);
  if (a.dhcp) return parseAddressToken(a.dhcp.options ? `${a.dhcp.client}:${a.dhcp.options}` : a.dhcp.client);
  if (a.none) return { kind: 'none' };
  throw invalid('an address entry is empty');
}

export function attachInputFromProto(r: FleetAttachRequest): FleetAttachInput {
  if (!r.host) throw invalid('no host given', 'say where the container runs: fleetnet attach --host H CONTAINER ADDRESS');
  const addresses = r.addresses.map(addressFromProto);
  if (addresses.some((a) => a.kind === 'none') && addresses.length > 1) throw invalid('0/0 means no address; it cannot be combined with other addresses');
  if (r.mac && r.macString) throw invalid('give either a MAC or U:string, not both');
  let mac: MacSpec = { kind: 'auto' };
  if (r.mac) mac = parseLast(r.mac).mac;
  if (r.macString) mac = parseLast(`U:${r.macString}`).mac;
  if (r.vlan) parseVlanId(r.vlan);
  if (r.mtu && (r.mtu < 68 || r.mtu > 65535)) throw invalid(`MTU ${r.mtu} is out of range (68-65535)`);
  if (r.attachmentId && !/^[A-Za-z0-9_.:-]{1,128}$/.test(r.attachmentId)) throw invalid(`attachment id '${r.attachmentId}' is not valid`, 'use 1-128 letters, digits and _.:-');
  return {
    host: r.host,
    ...(r.network ? { net: r.network } : {}),
    target: targetFromProto(r.target),
    ifname: parseIfName(r.ifname || 'eth1', 'container interface name'),
    addresses,
    mac,
    ...(r.vlan ? { vlan: r.vlan } : {}),
    ...(r.mtu ? { mtu: r.mtu } : {}),
    ...(r.attachmentId ? { id: r.attachmentId } : {}),
    ...(r.keepAddress ? { keepAddress: true } : {}),
  };
}

export function attachmentToProto(a: AttachmentRecord): Attachment {
  const v = attachmentView(a);
  return {
    id: a.id, host: a.host, network: a.net, target: { kind: a.target.kind, value: a.target.value }, ifname: a.ifname,
    hostIf: a.hostIf, kind: a.kind, mac: a.mac, addresses: v.addresses, gateways: v.gateways, mtu: a.mtu, vlan: a.vlan,
    state: a.state, error: a.error, generation: a.generation,
    container: a.container ? { ...a.container, netns: '' } : undefined,
    hostIfname: a.hostIfname, lease: undefined, createdUnixMs: a.createdMs, updatedUnixMs: a.updatedMs,
    dhcp: a.other.filter((o) => o.kind === 'dhcp').map((o) => ({ dhcp: { client: o.client, options: o.options } })),
    attempts: a.attempts ?? 0, keepAddress: !!a.keepAddress,
  };
}

export function hostToProto(h: HostRecord): Host {
  return {
    name: h.name, agentAddr: h.agentAddr, underlayIp: h.underlayIp, state: h.state, lastSeenUnixMs: h.lastSeenMs,
    agentVersion: h.agentVersion, capabilities: h.capabilities, generation: h.generation,
    observedGeneration: h.observedGeneration, lastError: h.lastError, addedUnixMs: h.addedMs,
  };
}

export function networkToProto(n: NetworkRecord, attachments: number): Network {
  return {
    name: n.name, subnets: n.subnets, gateways: n.gateways, ipamRanges: n.ipamRanges, bridge: n.bridge, kind: n.kind,
    parent: n.parent, parents: n.parents, vlan: n.vlan, mtu: n.mtu, createdUnixMs: n.createdMs, attachments,
    mesh: n.mesh?.encap ?? '', meshKey: n.mesh?.key ?? 0, meshHosts: n.mesh?.members ?? [], meshPort: n.mesh?.dstPort ?? 0,
  };
}

export function networkInputFromProto(n: Network | undefined): NetworkInput {
  if (!n) throw invalid('no network given');
  return {
    name: n.name, subnets: n.subnets, gateways: n.gateways, ipamRanges: n.ipamRanges, bridge: n.bridge, kind: n.kind,
    parent: n.parent, parents: n.parents, vlan: n.vlan, mtu: n.mtu,
    ...(n.mesh ? { mesh: { encap: n.mesh, key: n.meshKey, dstPort: n.meshPort } } : {}),
  };
}
