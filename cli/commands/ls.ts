// fleetnet ls: every interface fleetnet made (on this host, until a controller answers for the fleet).
import type { Command } from 'commander';
import { printJson, table } from '../output/table.js';

export function register(program: Command): void {
  program
    .command('ls')
    .summary('list the interfaces fleetnet made')
    .option('--json', 'print JSON for scripts')
    .option('--host <name>', 'only this fleet host (with a controller)')
    .option('--net <name>', 'only this network (with a controller)')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { controllerOf } = await import('../fleet/common.js');
      const ctl = await controllerOf(cmd);
      if (ctl) return (await import('./fleet-ls.js')).fleetLs(ctl, opts);
      const { connectAgent } = await import('../client/agent.js');
      const conn = connectAgent(cmd.optsWithGlobals().socket as string | undefined);
      try {
        const res = await conn.call(conn.client.list, {});
        if (opts.json) return printJson(res.interfaces);
        const rows = res.interfaces.map((i) => [
          i.container?.name ?? '', i.container?.pid ? String(i.container.pid) : '-', i.ifname, i.hostIf, i.kind, i.mac,
          [...i.addresses, ...(i.lease ? [`${i.lease.address}(${i.lease.client})`] : [])].join(',') || '-', String(i.mtu), i.hostIfname || '-', i.state,
        ]);
        process.stdout.write(table(['CONTAINER', 'PID', 'IF', 'HOSTIF', 'KIND', 'MAC', 'ADDRESSES', 'MTU', 'PEER', 'STATE'], rows) + '\n');
      } finally {
        conn.close();
      }
    });
}
