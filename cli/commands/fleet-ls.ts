// fleetnet ls through the controller (the fleet inventory); ls.ts branches here when a controller
// is configured.
import type { ControllerChoice } from '../client/controller-address.js';
import type { Opts } from '../fleet/common.js';
import { printJson, table } from '../output/table.js';

export async function fleetLs(ctl: ControllerChoice, opts: Opts): Promise<void> {
  const req = { host: opts.host ? String(opts.host) : '', network: opts.net ? String(opts.net) : '', container: '' };
  const { connectController } = await import('../client/controller.js');
  const conn = connectController(ctl.addr);
  try {
    if (opts.json) {
      await conn.streamJson(req, process.stdout);
      process.stdout.write('\n');
      return;
    }
    const res = await conn.call(conn.client.listAttachments, req);
    const rows = res.attachments.map((a) => [
      a.container?.name || a.target?.value || '', a.host, a.network, a.ifname, a.mac, a.addresses.join(',') || '-', a.state, a.error,
    ]);
    process.stdout.write(table(['CONTAINER', 'HOST', 'NET', 'IF', 'MAC', 'ADDRESSES', 'STATE', 'ERROR'], rows) + '\n');
  } finally {
    conn.close();
  }
}
