// The public shape of an attachment (`fleetnet ls --json`, inventory): the same whichever path served it.
import { lsEntryOfAttachment } from '../../common/inventory.js';
import type { LsEntry } from '../../common/ls-schema.js';
import type { AttachmentRecord } from './types.js';

/** One row of `fleetnet ls --json`: common/ls-schema.ts, the one schema for the controller's and an agent's rows. */
export type AttachmentView = LsEntry;

export function attachmentView(a: AttachmentRecord): AttachmentView {
  const addrs = a.addresses.map((x) => x.cidr);
  for (const r of a.reportedAddresses) if (!addrs.includes(r)) addrs.push(r);
  const gateways = a.addresses.flatMap((x) => (x.gateway ? [x.gateway] : []));
  // The MTU the interface has, as its agent reported it; until then the one asked for (0: the host interface's).
  return lsEntryOfAttachment({ ...a, network: a.net, addresses: addrs, gateways, mtu: a.reportedMtu || a.mtu });
}
