// The public shape of an attachment (`fleetnet ls --json`, inventory): the same whichever path served it.
import type { AttachmentRecord } from './types.js';

export interface AttachmentView {
  id: string;
  host: string;
  network: string;
  container: string;
  containerId: string;
  pid: number;
  ifname: string;
  hostIf: string;
  hostIfname: string;
  kind: string;
  mac: string;
  addresses: string[];
  gateways: string[];
  mtu: number;
  vlan: string;
  state: string;
  error: string;
  generation: number;
}

export function attachmentView(a: AttachmentRecord): AttachmentView {
  const addrs = a.addresses.map((x) => x.cidr);
  for (const r of a.reportedAddresses) if (!addrs.includes(r)) addrs.push(r);
  return {
    id: a.id,
    host: a.host,
    network: a.net,
    container: a.container?.name || a.target.value,
    containerId: a.container?.id ?? '',
    pid: a.container?.pid ?? 0,
    ifname: a.ifname,
    hostIf: a.hostIf,
    hostIfname: a.hostIfname,
    kind: a.kind,
    mac: a.mac,
    addresses: addrs,
    gateways: a.addresses.flatMap((x) => (x.gateway ? [x.gateway] : [])),
    mtu: a.mtu,
    vlan: a.vlan,
    state: a.state,
    error: a.error,
    generation: a.generation,
  };
}
