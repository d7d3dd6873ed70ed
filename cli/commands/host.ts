// fleetnet host add|ls|rm: the hosts of the fleet, each a running agent the controller can reach.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { invalid } from '../../common/errors.js';
import type { ControllerConn } from '../client/controller.js';
import { addPurgeOptions, addSshHostAddOptions, purgeAndRevoke, SSH_ADD_EXAMPLES, sshHostAdd, wantsSsh } from './host-bootstrap.js';
import { addOutputOptions, FORMAT_HELP, outputOf, type OutputSpec } from '../output/format.js';
import { printJson } from '../output/table.js';

const EXAMPLES = `
Examples:
  fleetnet host add h2 --addr 10.99.0.12           # the agent runs with --listen 10.99.0.12:7441
  fleetnet host add h3 --addr 10.99.0.13:7500
  fleetnet host ls
  fleetnet host rm h3                              # refused while h3 has attachments (--force forgets them)`;

export async function printHosts(cmd: Command, spec: OutputSpec): Promise<void> {
  const [{ withController }, { render }, { HOSTS_VIEW }] = await Promise.all([import('../client/controller.js'), import('../output/render.js'), import('../output/views.js')]);
  await withController(cmd.optsWithGlobals(), 'host ls', async (conn) => {
    const res = await conn.call(conn.client.listHosts, {});
    await render(spec, { items: res.hosts }, HOSTS_VIEW);
  });
}

/** Every --join network exists and has a mesh, or nothing is done (exit 2). */
async function checkMeshes(conn: ControllerConn, nets: string[]): Promise<void> {
  const have = new Map((await conn.call(conn.client.listNetworks, {})).networks.map((n) => [n.name, n]));
  for (const n of nets) {
    const net = have.get(n);
    if (!net) throw invalid(`--join ${n}: no network named ${n}`, "'fleetnet nets' lists them");
    if (!net.mesh) throw invalid(`--join ${n}: network ${n} has no mesh`, `create it with --mesh gre|vxlan`);
  }
}

/** `host add --join N`: the new host joins each network's mesh. Returns true when an agent has not converged yet. */
async function joinMeshes(conn: ControllerConn, host: string, nets: string[], json: boolean, added?: unknown): Promise<boolean> {
  const joined = [];
  for (const network of nets) {
    const res = await conn.call(conn.client.meshAdd, { host, network }, 60_000);
    joined.push(res);
    if (!json) {
      process.stdout.write(`  joined the mesh of ${network} (${res.network?.mesh} key ${res.network?.meshKey}); members: ${res.network?.meshHosts.join(' ') || '-'}\n`);
      for (const h of res.hosts) process.stdout.write(`    ${h.host}: ${h.error ? `not converged: ${h.error}` : `+${h.added} -${h.removed} tunnel(s)`}\n`);
    }
  }
  if (json && nets.length) printJson({ host: added, joined });
  return joined.some((r) => r.hosts.some((h) => h.error));
}

export function register(program: Command): void {
  const host = program.command('host').summary('register, list and remove fleet hosts').addHelpText('after', EXAMPLES);
  addSshHostAddOptions(host.command('add'))
    .summary('register a running agent (--addr), or bootstrap one over SSH (--ssh, --inventory)')
    .argument('[name]', 'the host\'s name in the fleet')
    .option('--addr <ip[:port]>', 'the agent\'s TCP endpoint (its --listen), default port 7441')
    .option('--underlay <ipv4>', 'the host\'s underlay IPv4 (default: the --addr IP); MACs carry its last three octets')
    .option('--join <net>', 'then put the host into this network\'s mesh (repeatable): one new tunnel on each member', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--json', 'print JSON')
    .addHelpText('after', EXAMPLES)
    .addHelpText('after', SSH_ADD_EXAMPLES)
    .action(async (name: string | undefined, opts: { addr: string; underlay?: string; json?: boolean; join: string[] } & Record<string, unknown>, cmd: Command) => {
      const { withController } = await import('../client/controller.js');
      if (wantsSsh(opts)) {
        // bootstrap, then register each host that joined with the controller (when one is configured)
        const g = cmd.optsWithGlobals();
        const { chooseController } = await import('../client/controller-address.js');
        if (!(await chooseController(g)) || g.listHosts) { // --list-hosts changes nothing: no controller needed
          process.exitCode = await sshHostAdd(name, g);
          return;
        }
        let pending = false;
        process.exitCode = await withController(g, 'host add', (conn) =>
          sshHostAdd(name, g, {
            register: async (h) => {
              await conn.call(conn.client.addHost, { name: h.name, agentAddr: h.agentAddr, underlayIp: h.underlayIp });
              // A member that has not converged yet is no reason to undo the install: it is recorded, exit 3.
              pending = (await joinMeshes(conn, h.name, opts.join, false)) || pending;
            },
          }));
        if (pending && !process.exitCode) process.exitCode = 3;
        return;
      }
      if (!name || !opts.addr) throw invalid('host add needs NAME and --addr IP[:PORT] (or --ssh USER@ADDR / --inventory FILE)', 'e.g. fleetnet host add h2 --addr 10.99.0.12');
      await withController(cmd.optsWithGlobals(), 'host add', async (conn) => {
        if (opts.join.length) await checkMeshes(conn, opts.join); // refused before the host is registered
        const h = await conn.call(conn.client.addHost, { name, agentAddr: opts.addr, underlayIp: opts.underlay ?? '' });
        if (opts.json && !opts.join.length) printJson(h);
        else if (!opts.json) process.stdout.write(`host ${h.name}: agent ${h.agentAddr}, underlay ${h.underlayIp}\n`);
        const pending = await joinMeshes(conn, h.name, opts.join, Boolean(opts.json), h);
        if (pending) process.exitCode = 3; // recorded; the agents that did not answer converge when they return
      });
    });
  addOutputOptions(host.command('ls'), { ids: 'host names' })
    .summary('list fleet hosts')
    .addHelpText('after', FORMAT_HELP)
    .action(async (_opts: unknown, cmd: Command) => printHosts(cmd, await outputOf(cmd)));
  addPurgeOptions(host.command('rm'))
    .summary('remove a host from the fleet; its certificates are revoked (--purge: also uninstall it over SSH)')
    .argument('<name>')
    .option('--force', 'also forget its attachments (its agent is not asked to remove them)')
    .option('--json', 'print the result as JSON (with a controller)')
    .action(async (name: string, opts: { force?: boolean; purge?: boolean; ssh?: string; controllerDir: string; json?: boolean }, cmd: Command) => {
      const [{ withController }, { chooseController }] = await Promise.all([import('../client/controller.js'), import('../client/controller-address.js')]);
      const g = cmd.optsWithGlobals();
      // with no controller configured, host rm is about the host itself: revoke (and --purge)
      if ((await chooseController(g)) || !(opts.purge || existsSync(opts.controllerDir))) {
        await withController(g, 'host rm', async (conn) => {
          const res = await conn.call(conn.client.removeHost, { name, force: Boolean(opts.force) });
          if (opts.json) printJson({ host: name, ...res });
          else process.stdout.write(`host ${name} removed\n`);
        });
      }
      if (opts.purge || existsSync(opts.controllerDir)) await purgeAndRevoke(name, opts);
    });
}
