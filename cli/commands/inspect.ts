// fleetnet inspect: DESIGN.md's inventory schema, with the `compat` object network-wrapper users
// script against: from the controller for the fleet when one is configured, else from the local agent.
import type { Command } from 'commander';
import { invalid, notFound } from '../../common/errors.js';
import { addOutputOptions, formatHelp, outputOf } from '../output/format.js';

const EXAMPLES = `
Prints a JSON array, one {container, host, interfaces: [...]} per host and container (also when one
matches; the same from a host's agent and through the controller); each interface has fleetnet's
fields (its ls --json row: id, network, addresses, ..., and lease) and a "compat" object with
network-wrapper's fields: HWAddr, Bridge, IPAddress, IPPrefixLen, Gateway, DNS, DHCP_PID.

Examples:
  fleetnet inspect web1                 # one container, found as attach and detach find it
  fleetnet inspect netns:blue           # explicit: docker:NAME, pid:N, netns:NAME, lxc:NAME, /path
  fleetnet inspect --all                # every container with a fleetnet interface on this host
  fleetnet inspect --host h2 web1       # through the controller: web1 on fleet host h2
  fleetnet inspect web1 | jq -r '.[0].interfaces[0].compat.IPAddress'`;

export function register(program: Command): void {
  addOutputOptions(program.command('inspect'), { ids: 'container ids' })
    .summary("show a container's interfaces as JSON (with network-wrapper's compat fields)")
    .argument('[container]', 'as for attach: name, ID, ID prefix, PID, docker:/pid:/netns:/lxc:NAME, /path')
    .option('--all', 'every container with a fleetnet interface on this host (local agent)')
    .option('--host <name>', 'with a controller: only this fleet host')
    .addHelpText(
      'after',
      EXAMPLES + '\n' + formatHelp(['{{host}} {{json interfaces}}'], { kinds: ['json', 'table', 'wide', 'yaml'] }),
    )
    .action(async (ref: string | undefined, opts: { all?: boolean; host?: string }, cmd: Command) => {
      const spec = await outputOf(cmd, 'json');
      const { controllerOf } = await import('../fleet/common.js');
      if (await controllerOf(cmd)) {
        if (!ref) throw invalid('name a container', 'fleetnet inspect web1');
        return (await import('./fleet-inspect.js')).fleetInspect(cmd, ref, opts.host, spec);
      }
      if (!ref && !opts.all) throw invalid('name a container, or pass --all', 'fleetnet inspect web1');
      const [{ connectAgent }, { buildInventory }, { parseTarget }] = await Promise.all([
        import('../client/agent.js'),
        import('../../common/inventory.js'),
        import('../../common/attach/target.js'),
      ]);
      // The container is found by the agent as detach finds it (the same forms, the same refusals).
      const target = opts.all ? undefined : parseTarget(ref!);
      const conn = connectAgent(cmd.optsWithGlobals().socket as string | undefined);
      try {
        const [res, health] = await Promise.all([
          target ? conn.call(conn.client.inspect, { target }) : conn.call(conn.client.list, {}),
          conn.call(conn.client.health, {}),
        ]);
        const all = buildInventory(health.hostname, res.interfaces);
        const { render } = await import('../output/render.js');
        const { INSPECT_VIEW } = await import('../output/views.js');
        if (!target) return render(spec, { items: all }, INSPECT_VIEW);
        if (!all.length)
          throw notFound(`no fleetnet interface belongs to '${ref}' on this host`, "'fleetnet ls' lists them");
        await render(spec, { items: all }, INSPECT_VIEW); // an array, also of one, as through the controller
      } finally {
        conn.close();
      }
    });
}
