// fleetnet detach through the controller (the fleet path); detach.ts branches here when a
// controller is configured.
import { parseTarget, targetToProto } from '../../common/attach/index.js';
import { parseIfName } from '../../common/ifname.js';
import { lsEntryOfAttachment } from '../../common/inventory.js';
import type { ControllerChoice } from '../client/controller-address.js';
import { connectController } from '../client/controller.js';
import { needHost, settle, timeoutMsOf, type Opts } from '../fleet/common.js';
import { printJson } from '../output/table.js';

export async function fleetDetach(ctl: ControllerChoice, container: string, opts: Opts): Promise<void> {
  const host = needHost(opts, 'detach');
  const target = parseTarget(container);
  const ifname = parseIfName(String(opts.ifname ?? 'eth1'), 'container interface name (-i)');
  const timeoutMs = timeoutMsOf(opts);
  const conn = connectController(ctl.addr);
  try {
    const req = { host, target: targetToProto(target), ifname, attachmentId: '', waitMs: timeoutMs };
    const res = await conn.call(conn.client.fleetDetach, req, timeoutMs + 10_000);
    // The attachment as its `ls --json` row, as attach --json prints it.
    const attachment = res.attachment ? { attachment: lsEntryOfAttachment(res.attachment) } : {};
    if (opts.json) printJson({ found: res.found, ...attachment, done: res.done });
    else if (!res.found) process.stdout.write(`nothing to detach: ${container} has no ${ifname} on ${host}\n`);
    else if (res.done) process.stdout.write(`detached ${ifname} from ${container} on ${host}\n`);
    if (res.found && !res.done) settle(res.attachment!, 'detach');
  } finally {
    conn.close();
  }
}
