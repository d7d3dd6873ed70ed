// fleetnet inspect CONTAINER: DESIGN.md's inventory schema, with network-wrapper's compat fields.
import type { Command } from 'commander';
import { notFound } from '../../common/errors.js';
import type { Attachment } from '../../proto/gen/fleetnet/v1/controller.js';
import { printJson } from '../output/table.js';

export function inventoryOf(container: string, atts: Attachment[]): unknown[] {
  const byHost = new Map<string, Attachment[]>();
  for (const a of atts) byHost.set(a.host, [...(byHost.get(a.host) ?? []), a]);
  return [...byHost].map(([host, list]) => ({
    container: list[0]!.container?.name || container,
    host,
    interfaces: list.map((a) => {
      const v4 = a.addresses.find((x) => !x.includes(':'));
      return {
        id: a.id, network: a.network, ifname: a.ifname, hostIf: a.hostIf, hostIfname: a.hostIfname, kind: a.kind, mac: a.mac,
        addresses: a.addresses, gateways: a.gateways, mtu: a.mtu, vlan: a.vlan, state: a.state, error: a.error,
        compat: {
          HWAddr: a.mac,
          Bridge: a.hostIf,
          IPAddress: v4 ? v4.split('/')[0] : '',
          IPPrefixLen: v4 ? Number(v4.split('/')[1]) : 0,
          Gateway: a.gateways.find((g) => !g.includes(':')) ?? '',
          DNS: a.lease?.dns ?? [],
          DHCP_PID: a.lease?.clientPid ?? 0,
        },
      };
    }),
  }));
}

export function register(program: Command): void {
  program
    .command('inspect')
    .summary('print a container\'s interfaces across the fleet as JSON')
    .argument('<container>', 'name or ID as attached')
    .option('--host <name>', 'only this host')
    .addHelpText('after', '\nExamples:\n  fleetnet inspect web1\n  fleetnet inspect --host h2 web1 | jq \'.[0].interfaces[0].compat.IPAddress\'')
    .action(async (container: string, opts: { host?: string }, cmd: Command) => {
      const { withController } = await import('../client/controller.js');
      await withController(cmd.optsWithGlobals(), 'inspect', async (conn) => {
        const res = await conn.call(conn.client.listAttachments, { host: opts.host ?? '', network: '', container });
        if (!res.attachments.length) throw notFound(`no attachment for ${container}${opts.host ? ` on ${opts.host}` : ''}`, 'see them all with: fleetnet ls');
        printJson(inventoryOf(container, res.attachments));
      });
    });
}
