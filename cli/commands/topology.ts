// fleetnet topology: hosts, bridges, tunnels with their state and containers per network, as a tree,
// Graphviz DOT or SVG. From the controller for the fleet, else from this host's agent.
import type { Command } from 'commander';
import { addOutputOptions, outputOf } from '../output/format.js';

const KINDS = ['tree', 'wide', 'dot', 'svg', 'json', 'yaml'] as const;

const HELP = `
Output: -o tree (default) | wide (with MACs and tunnel ports) | dot (Graphviz) | svg (drawn by
Graphviz's dot, which must be installed: apt-get install graphviz) | json | yaml;
--format TEMPLATE prints one line per host (fields of -o json's hosts); -q prints host names.

Examples:
  fleetnet topology
  fleetnet topology -o svg > fleet.svg
  fleetnet topology -o dot | dot -Tpng > fleet.png`;

export function register(program: Command): void {
  addOutputOptions(program.command('topology'), { ids: 'host names', kinds: KINDS })
    .summary("the fleet's shape: hosts, bridges, tunnels and containers (tree, DOT, SVG)")
    .addHelpText('after', HELP)
    .action(async (_opts: unknown, cmd: Command) => {
      const spec = await outputOf(cmd, 'tree', KINDS);
      const [{ controllerOf }, topo] = await Promise.all([
        import('../fleet/common.js'),
        import('../output/topology.js'),
      ]);
      const ctl = await controllerOf(cmd);
      const input = ctl ? await fromController(cmd) : await fromAgent(cmd);
      const t = topo.buildTopology(input);
      if (spec.kind === 'tree' || spec.kind === 'wide')
        process.stdout.write(topo.topologyTree(t, spec.kind === 'wide'));
      else if (spec.kind === 'dot') process.stdout.write(topo.topologyDot(t));
      else if (spec.kind === 'svg') {
        const { ExecRunner } = await import('../../common/runner.js');
        process.stdout.write(await topo.topologySvg(t, new ExecRunner()));
      } else {
        const { render } = await import('../output/render.js');
        await render(spec, { items: t.hosts, whole: t }, { columns: [], id: (h) => h.name });
      }
    });
}

async function fromController(cmd: Command): Promise<import('../output/topology.js').TopologyInput> {
  const [{ withController }, { lsEntries }] = await Promise.all([
    import('../client/controller.js'),
    import('./fleet-ls.js'),
  ]);
  return withController(cmd.optsWithGlobals(), 'topology', async (conn) => {
    const [hosts, nets, attachments, mesh] = await Promise.all([
      conn.call(conn.client.listHosts, {}),
      conn.call(conn.client.listNetworks, {}),
      lsEntries(conn, { host: '', network: '', container: '' }),
      conn.call(conn.client.fleetMeshStatus, { network: '', waitUpMs: 0 }),
    ]);
    return { hosts: hosts.hosts, networks: nets.networks, attachments, tunnels: mesh.tunnels };
  });
}

async function fromAgent(cmd: Command): Promise<import('../output/topology.js').TopologyInput> {
  const [{ connectAgent }, { lsEntryOf }] = await Promise.all([
    import('../client/agent.js'),
    import('../../common/inventory.js'),
  ]);
  const conn = connectAgent(cmd.optsWithGlobals().socket as string | undefined);
  try {
    const [list, health, mesh] = await Promise.all([
      conn.call(conn.client.list, {}),
      conn.call(conn.client.health, {}),
      conn.call(conn.client.meshStatus, { network: '', waitUpMs: 0 }),
    ]);
    const host = health.hostname;
    return {
      hosts: [{ name: host, state: 'up', underlayIp: '' }],
      networks: [],
      attachments: list.interfaces.map((i) => lsEntryOf(host, i)),
      tunnels: mesh.tunnels.map((x) => ({
        host,
        network: x.network,
        peer: x.peer,
        port: x.port,
        state: x.state,
        detail: x.detail,
      })),
    };
  } finally {
    conn.close();
  }
}
