// Proto types stop here: controller requests become domain inputs, records become proto messages.
import { attachSpecOfFleetRequest, parseNewIfName } from '../../common/attach/index.js';
import { invalid } from '../../common/errors.js';
import type { Attachment, FleetAttachRequest, Host, Network } from '../../proto/gen/fleetnet/v1/controller.js';
import type { FleetAttachInput } from '../fleet/attachments.js';
import type { NetworkInput } from '../../common/network-spec.js';
import type { AttachmentRecord, HostRecord, NetworkRecord } from '../store/types.js';
import { attachmentView } from '../store/view.js';

export function attachInputFromProto(r: FleetAttachRequest): FleetAttachInput {
  const s = attachSpecOfFleetRequest(r);
  return {
    host: s.host,
    ...(s.net ? { net: s.net } : {}),
    target: s.target,
    ifname: s.ifname ?? parseNewIfName('eth1'),
    addresses: s.addresses,
    mac: s.mac,
    ...(s.id ? { vlan: s.id } : {}),
    ...(s.mtu ? { mtu: s.mtu } : {}),
    ...(s.attachmentId ? { id: s.attachmentId } : {}),
    ...(r.keepAddress ? { keepAddress: true } : {}),
    ...(r.reserveOnly ? { reserveOnly: true } : {}),
  };
}

export function attachmentToProto(a: AttachmentRecord): Attachment {
  const v = attachmentView(a);
  return {
    id: a.id,
    host: a.host,
    network: a.net,
    target: { kind: a.target.kind, value: a.target.value },
    ifname: a.ifname,
    hostIf: a.hostIf,
    kind: a.kind,
    mac: a.mac,
    addresses: v.addresses,
    gateways: v.gateways,
    mtu: v.mtu,
    vlan: a.vlan,
    state: a.state,
    error: a.error,
    generation: a.generation,
    container: a.container ? { ...a.container, netns: '' } : undefined,
    hostIfname: a.hostIfname,
    lease: undefined,
    createdUnixMs: a.createdMs,
    updatedUnixMs: a.updatedMs,
    dhcp: a.other.filter((o) => o.kind === 'dhcp').map((o) => ({ dhcp: { client: o.client, options: o.options } })),
    attempts: a.attempts ?? 0,
    keepAddress: !!a.keepAddress,
    reserveOnly: !!a.reserveOnly,
  };
}

/** controller: the one that dispatches to the host, when several share the fleet (etcd). */
export function hostToProto(h: HostRecord, controller = ''): Host {
  return {
    name: h.name,
    agentAddr: h.agentAddr,
    underlayIp: h.underlayIp,
    state: h.state,
    lastSeenUnixMs: h.lastSeenMs,
    agentVersion: h.agentVersion,
    capabilities: h.capabilities,
    generation: h.generation,
    observedGeneration: h.observedGeneration,
    lastError: h.lastError,
    addedUnixMs: h.addedMs,
    controller,
  };
}

/** What a network's record, its proto message and a new network's input have alike, copied as it is. */
type NetworkFields = Pick<
  Network,
  'name' | 'subnets' | 'gateways' | 'ipamRanges' | 'bridge' | 'kind' | 'parent' | 'parents' | 'vlan' | 'mtu'
>;

function networkFields(n: NetworkFields): NetworkFields {
  return {
    name: n.name,
    subnets: n.subnets,
    gateways: n.gateways,
    ipamRanges: n.ipamRanges,
    bridge: n.bridge,
    kind: n.kind,
    parent: n.parent,
    parents: n.parents,
    vlan: n.vlan,
    mtu: n.mtu,
  };
}

export function networkToProto(n: NetworkRecord, attachments: number): Network {
  return {
    ...networkFields(n),
    createdUnixMs: n.createdMs,
    attachments,
    mesh: n.mesh?.encap ?? '',
    meshKey: n.mesh?.key ?? 0,
    meshHosts: n.mesh?.members ?? [],
    meshPort: n.mesh?.dstPort ?? 0,
  };
}

export function networkInputFromProto(n: Network | undefined): NetworkInput {
  if (!n) throw invalid('no network given');
  return {
    ...networkFields(n),
    ...(n.mesh ? { mesh: { encap: n.mesh, key: n.meshKey, dstPort: n.meshPort } } : {}),
  };
}
