// fleetnet detach: removes an interface fleetnet made; succeeds when it is already gone.
import type { Command } from 'commander';
import { parseTarget } from '../../common/attach-args.js';
import { parseIfName } from '../../common/ifname.js';
import { connectAgent } from '../client/agent.js';
import { controllerOf } from '../fleet/common.js';
import { printJson } from '../output/table.js';
import { fleetDetach } from './fleet-detach.js';

export function register(program: Command): void {
  program
    .command('detach')
    .summary('remove an interface fleetnet gave a container')
    .description(
      'Remove an interface fleetnet gave a container, with its host-side peer, and restore the default ' +
        'route an @gateway replaced. Detaching what is not there succeeds.',
    )
    .argument('<container>', 'as for attach: name, ID, PID, netns:NAME, /path')
    .option('-i, --ifname <name>', 'interface inside the container', 'eth1')
    .option('--json', 'print the result as JSON')
    .option('--host <name>', 'the fleet host the container runs on (with a controller)')
    .option('--timeout <seconds>', 'with a controller: how long to wait for the agent before exiting 3 (pending)', '30')
    .addHelpText('after', '\nExamples:\n  fleetnet detach web1\n  fleetnet detach web1 -i eth2')
    .action(async (container: string, opts: { ifname: string; json?: boolean }, cmd: Command) => {
      const ctl = await controllerOf(cmd);
      if (ctl) return fleetDetach(ctl, container, opts);
      const target = parseTarget(container);
      const ifname = parseIfName(opts.ifname, 'container interface name (-i)');
      const conn = connectAgent(cmd.optsWithGlobals().socket as string | undefined);
      try {
        const res = await conn.call(conn.client.detach, {
          target: { kind: target.kind, value: target.value },
          ifname,
          attachmentId: '',
        });
        if (opts.json) printJson(res);
        else
          process.stdout.write(
            res.removed
              ? `detached ${ifname} from ${container}\n`
              : `nothing to detach: ${container} has no ${ifname} from fleetnet\n`,
          );
      } finally {
        conn.close();
      }
    });
}
