// fleetnet detach: removes an interface fleetnet made; succeeds when it is already gone.
import type { Command } from 'commander';
import { parseTarget } from '../../common/attach-args.js';
import { parseIfName } from '../../common/ifname.js';
import { connectAgent } from '../client/agent.js';
import { controllerFor, type Opts } from '../fleet/common.js';
import { addOptions, type OptionSpec } from '../option-spec.js';
import { printJson } from '../output/table.js';
import { fleetDetach } from './fleet-detach.js';

/** detach's options, in the order its help lists them. */
export const DETACH_OPTIONS: readonly OptionSpec[] = [
  ['-i, --ifname <name>', 'interface inside the container', 'eth1'],
  ['--json', 'print the result as JSON'],
  ['--host <name>', 'the fleet host the container runs on (with a controller)'],
  ['--timeout <seconds>', 'with a controller: how long to wait for the agent before exiting 3 (pending)', '30'],
];

export function register(program: Command): void {
  addOptions(
    program
      .command('detach')
      .summary('remove an interface fleetnet gave a container')
      .description(
        'Remove an interface fleetnet gave a container, with its host-side peer, and restore the default ' +
          'route an @gateway replaced. Detaching what is not there succeeds.',
      )
      .argument('<container>', 'as for attach: name, ID, PID, netns:NAME, /path'),
    DETACH_OPTIONS,
  )
    .addHelpText('after', '\nExamples:\n  fleetnet detach web1\n  fleetnet detach web1 -i eth2')
    .action((container: string, opts: Opts, cmd: Command) => detachAction(container, opts, cmd.optsWithGlobals()));
}

/** `fleetnet detach CONTAINER` with its options and the program's (`g`: commander's optsWithGlobals()). */
export async function detachAction(container: string, opts: Opts, g: Opts): Promise<void> {
  const ctl = await controllerFor(g);
  if (ctl) return fleetDetach(ctl, container, opts);
  const target = parseTarget(container);
  const ifname = parseIfName(String(opts.ifname), 'container interface name (-i)');
  const conn = connectAgent(g.socket as string | undefined);
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
}
