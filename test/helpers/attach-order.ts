// An AttachOrder from the CLI's attach words (`br1 netns:x 10.1.1.5/24 …`), interface eth1, as the
// privileged attach tests give the Attacher directly.
import type { AttachOrder } from '../../agent/attach/order.js';
import { parseAttachArgs } from '../../common/attach-args.js';
import { parseIfName } from '../../common/ifname.js';

export function attachOrder(words: string[], extra: Partial<AttachOrder> = {}): AttachOrder {
  const a = parseAttachArgs(words);
  return {
    hostIf: parseIfName(a.hostIf!),
    target: a.target,
    ifname: parseIfName('eth1'),
    addresses: a.addresses,
    mac: a.mac,
    dryRun: false,
    ...(a.id ? { id: a.id } : {}),
    ...extra,
  };
}
