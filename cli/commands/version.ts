// fleetnet version: this CLI's version, the controller's, and each agent's as the controller last
// saw it (ListHosts); without a controller, the local agent's (its Health).
import type { Command } from 'commander';
import { addOutputOptions, FORMAT_HELP, outputOf } from '../output/format.js';

interface Row {
  component: 'client' | 'controller' | 'agent';
  name: string;
  version: string;
  state: string;
  address: string;
}

export function register(program: Command): void {
  addOutputOptions(program.command('version'), { kinds: ['table', 'json', 'yaml'] })
    .summary('versions of this CLI, the controller and every agent')
    .description('The version of this CLI, of the controller it talks to and of each agent of the fleet (as the '
      + 'controller last saw it); with no controller configured (or --local), of this host\'s agent. A part that does '
      + 'not answer is shown with its error, and the exit code is 1.')
    .addHelpText('after', FORMAT_HELP)
    .action(async (_opts: unknown, cmd: Command) => {
      const spec = await outputOf(cmd, 'table', ['table', 'json', 'yaml']);
      const [{ VERSION }, { chooseController }, { describeError }, { render }] = await Promise.all([
        import('../../common/version.js'), import('../client/controller-address.js'), import('../../common/errors.js'),
        import('../output/render.js'),
      ]);
      const g = cmd.optsWithGlobals();
      const rows: Row[] = [{ component: 'client', name: 'fleetnet', version: VERSION, state: '', address: '' }];
      let failed = false;
      const ctl = await chooseController(g);
      if (ctl) {
        const { connectController } = await import('../client/controller.js');
        const conn = connectController(ctl.addr);
        try {
          const h = await conn.call(conn.client.controllerHealth, {}, 10_000);
          rows.push({ component: 'controller', name: 'controller', version: h.version, state: h.status, address: conn.addr });
          const hosts = (await conn.call(conn.client.listHosts, {}, 10_000)).hosts;
          for (const x of hosts) {
            rows.push({ component: 'agent', name: x.name, version: x.agentVersion || '-', state: x.state, address: x.agentAddr });
          }
        } catch (err) {
          failed = true;
          rows.push({ component: 'controller', name: 'controller', version: '-', state: `error: ${describeError(err)}`, address: ctl.addr });
        } finally {
          conn.close();
        }
      } else {
        const { connectAgent } = await import('../client/agent.js');
        const conn = connectAgent(g.socket as string | undefined);
        try {
          const h = await conn.call(conn.client.health, {}, 10_000);
          rows.push({ component: 'agent', name: h.hostname, version: h.version, state: h.status, address: conn.addr });
        } catch (err) {
          failed = true;
          rows.push({ component: 'agent', name: 'local', version: '-', state: `error: ${describeError(err)}`, address: conn.addr });
        } finally {
          conn.close();
        }
      }
      await render(spec, { items: rows }, {
        columns: [['COMPONENT', (r) => r.component], ['NAME', (r) => r.name], ['VERSION', (r) => r.version],
          ['STATE', (r) => r.state], ['ADDRESS', (r) => r.address]],
      });
      if (failed) process.exitCode = 1;
    });
}
