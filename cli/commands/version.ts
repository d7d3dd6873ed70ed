// fleetnet version: this CLI's version, the controller's, and each agent's as the controller asks
// it now (AgentVersions: each agent's Health); without a controller, the local agent's.
import type { Command } from 'commander';
import { addOutputOptions, formatHelp, outputOf } from '../output/format.js';

interface Row {
  component: 'client' | 'controller' | 'agent';
  name: string;
  version: string;
  state: string;
  address: string;
}

const row = (component: Row['component'], name: string, version: string, state: string, address: string): Row => ({
  component,
  name,
  version,
  state,
  address,
});

/** What -o takes here: the rows have no ids (-q) and no more columns (wide). */
const VERSION_KINDS = ['table', 'json', 'yaml'];

export function register(program: Command): void {
  addOutputOptions(program.command('version'), { kinds: VERSION_KINDS })
    .summary('versions of this CLI, the controller and every agent')
    .description(
      'The version of this CLI, of the controller it talks to and of each agent of the fleet (the ' +
        'controller asks each agent now; one that does not answer shows the version last seen); with no controller ' +
        "configured (or --local), of this host's agent. A part that does not answer is shown with its error, and " +
        'the exit code is 1.',
    )
    .addHelpText('after', formatHelp(['{{component}} {{name}} {{version}}'], { kinds: VERSION_KINDS, ids: false }))
    .action(async (_opts: unknown, cmd: Command) => {
      const spec = await outputOf(cmd, 'table', VERSION_KINDS);
      const [{ VERSION }, { chooseController }, { describeError }, { render }] = await Promise.all([
        import('../../common/version.js'),
        import('../client/controller-address.js'),
        import('../../common/errors.js'),
        import('../output/render.js'),
      ]);
      const g = cmd.optsWithGlobals();
      const rows: Row[] = [row('client', 'fleetnet', VERSION, '', '')];
      let failed = false;
      const ctl = await chooseController(g);
      if (ctl) {
        const { connectController } = await import('../client/controller.js');
        const conn = connectController(ctl.addr);
        try {
          const h = await conn.call(conn.client.controllerHealth, {}, 10_000);
          rows.push(row('controller', 'controller', h.version, h.status, conn.addr));
          // each agent asked now (its Health through the controller)
          const agents = (await conn.call(conn.client.agentVersions, {}, 15_000)).agents;
          for (const a of agents) {
            const state = a.state === 'up' ? 'up' : `${a.state}: ${a.error}`;
            rows.push(row('agent', a.host, a.version || '-', state, a.agentAddr));
            if (a.state !== 'up') failed = true;
          }
        } catch (err) {
          failed = true;
          rows.push(row('controller', 'controller', '-', `error: ${describeError(err)}`, ctl.addr));
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
          rows.push(row('agent', 'local', '-', `error: ${describeError(err)}`, conn.addr));
        } finally {
          conn.close();
        }
      }
      await render(
        spec,
        { items: rows },
        {
          columns: [
            ['COMPONENT', (r) => r.component],
            ['NAME', (r) => r.name],
            ['VERSION', (r) => r.version],
            ['STATE', (r) => r.state],
            ['ADDRESS', (r) => r.address],
          ],
        },
      );
      if (failed) process.exitCode = 1;
    });
}
