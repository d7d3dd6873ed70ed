// Proto types stop here: requests become domain orders, records become proto interfaces.
import { existsSync } from 'node:fs';
import {
  attachSpecOfRequest,
  checkAddressList,
  checkId,
  isIpoibParent,
  targetFromProto,
} from '../../common/attach/index.js';
import { FleetnetError, invalid, notFound } from '../../common/errors.js';
import { parseIfName, parseNewIfName, type IfName } from '../../common/ifname.js';
import type { Mac } from '../../common/mac.js';
import { findLinksByMac } from '../linux/sysfs.js';
import type { AttachRequest, DetachRequest, Interface } from '../../proto/gen/fleetnet/v1/agent.js';
import type { AttachOrder, DetachOrder } from '../attach/order.js';
import type { AttachmentRecord } from '../attach/records.js';
import type { Lease } from '../dhcp/types.js';

export { targetFromProto };

export function attachOrderFromProto(r: AttachRequest, sysClassNet?: string): AttachOrder {
  if (!r.hostIf) throw invalid('no host interface given', 'name a bridge, e.g. fleetnet attach br1 web1 10.1.1.5/24');
  const spec = attachSpecOfRequest(r);
  checkAddressList(spec.addresses, { required: true });
  const hostIf = spec.hostIfByMac ? hostIfByMac(spec.hostIfByMac, sysClassNet) : spec.hostIf!;
  const ipoib = isIpoibParent({ hostIf, ...(spec.kind ? { kind: spec.kind } : {}) });
  if (spec.hostIfByMac) checkId(spec.id, ipoib);
  const { hostIfByMac: _byMac, ...rest } = spec;
  return {
    ...rest,
    hostIf,
    ifname: spec.ifname ?? parseNewIfName(ipoib ? 'ib0' : 'eth1'),
    dryRun: Boolean(spec.dryRun),
  };
}

/** pipework's `mac:HOSTMAC`: the one host interface holding that MAC. */
function hostIfByMac(mac: Mac, sysClassNet?: string): IfName {
  const names = findLinksByMac(mac, sysClassNet);
  if (names.length === 0)
    throw notFound(`no host interface has MAC ${mac}`, "'ip link' shows the MACs of this host's interfaces");
  // A NIC and the VLAN children or bridges made on it share its MAC: prefer the one that is none of those.
  const plain = names.filter((n) => !n.includes('.') && !existsSync(`${sysClassNet ?? '/sys/class/net'}/${n}/bridge`));
  if (plain.length === 1) return parseIfName(plain[0]!, 'host interface');
  if (names.length === 1) return parseIfName(names[0]!, 'host interface');
  throw new FleetnetError('ambiguous', `MAC ${mac} is held by more than one host interface: ${names.join(', ')}`, {
    hint: 'name the interface instead of mac:…',
  });
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
  return {
    address: l.address,
    router: l.router,
    dns: l.dns,
    leaseSeconds: l.leaseSeconds,
    expiresUnixMs: l.expiresUnixMs,
    clientPid: l.clientPid,
    client: l.client,
  };
}

export function interfaceToProto(r: AttachmentRecord, state = 'up', lease?: Lease): Interface {
  return {
    attachmentId: r.attachmentId,
    container: {
      runtime: r.container.runtime,
      id: r.container.id,
      name: r.container.name,
      pid: r.container.pid,
      netns: r.container.netns,
    },
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
