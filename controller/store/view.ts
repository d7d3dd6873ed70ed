// The public shape of an attachment (`fleetnet ls --json`, inventory): the same whichever path served it.
import type { LsEntry } from '../../common/ls-schema.js';
import type { AttachmentRecord } from './types.js';

/** One row of `fleetnet ls --json`: common/ls-schema.ts, the one schema for the controller's and an agent's rows. */
export type AttachmentView = LsEntry;

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
