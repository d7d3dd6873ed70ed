// fleetnet host add|ls|rm: the hosts of the fleet, each a running agent the controller can reach.
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { invalid } from '../../common/errors.js';
import { addPurgeOptions, addSshHostAddOptions, purgeAndRevoke, SSH_ADD_EXAMPLES, sshHostAdd, wantsSsh } from './host-bootstrap.js';
import type { Host } from '../../proto/gen/fleetnet/v1/controller.js';
import { printJson, table } from '../output/table.js';

const EXAMPLES = `
Examples:
  fleetnet host add h2 --addr 10.99.0.12           # the agent runs with --listen 10.99.0.12:7441
  fleetnet host add h3 --addr 10.99.0.13:7500
  fleetnet host ls
  fleetnet host rm h3                              # refused while h3 has attachments (--force forgets them)`;

function ago(ms: number): string {
  if (!ms) return 'never';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 120 ? `${s}s ago` : `${Math.round(s / 60)}m ago`;
}

export async function printHosts(cmd: Command, json: boolean): Promise<void> {
  const { withController } = await import('../client/controller.js');
  await withController(cmd.optsWithGlobals(), 'host ls', async (conn) => {
    const res = await conn.call(conn.client.listHosts, {});
    if (json) return printJson(res.hosts);
    const rows = res.hosts.map((h: Host) => [
      h.name, h.agentAddr, h.underlayIp, h.state, ago(h.lastSeenUnixMs), h.agentVersion || '-', `${h.observedGeneration}/${h.generation}`, h.lastError,
    ]);
    process.stdout.write(table(['HOST', 'AGENT', 'UNDERLAY', 'STATE', 'SEEN', 'VERSION', 'GEN', 'ERROR'], rows) + '\n');
  });
}

export function register(program: Command): void {
  const host = program.command('host').summary('register, list and remove fleet hosts').addHelpText('after', EXAMPLES);
  addSshHostAddOptions(host.command('add'))
    .summary('register a running agent (--addr), or bootstrap one over SSH (--ssh, --inventory)')
    .argument('[name]', 'the host\'s name in the fleet')
    .option('--addr <ip[:port]>', 'the agent\'s TCP endpoint (its --listen), default port 7441')
    .option('--underlay <ipv4>', 'the host\'s underlay IPv4 (default: the --addr IP); MACs carry its last three octets')
    .option('--json', 'print JSON')
    .addHelpText('after', EXAMPLES)
    .addHelpText('after', SSH_ADD_EXAMPLES)
    .action(async (name: string | undefined, opts: { addr: string; underlay?: string; json?: boolean } & Record<string, unknown>, cmd: Command) => {
      const { withController } = await import('../client/controller.js');
      if (wantsSsh(opts)) {
        // bootstrap, then register each host that joined with the controller (when one is configured)
        const g = cmd.optsWithGlobals();
        const { chooseController } = await import('../client/controller-address.js');
        if (!chooseController(g)) {
          process.exitCode = await sshHostAdd(name, g);
          return;
        }
        process.exitCode = await withController(g, 'host add', (conn) =>
          sshHostAdd(name, g, { register: async (h) => void (await conn.call(conn.client.addHost, { name: h.name, agentAddr: h.agentAddr, underlayIp: h.underlayIp })) }));
        return;
      }
      if (!name || !opts.addr) throw invalid('host add needs NAME and --addr IP[:PORT] (or --ssh USER@ADDR / --inventory FILE)', 'e.g. fleetnet host add h2 --addr 10.99.0.12');
      await withController(cmd.optsWithGlobals(), 'host add', async (conn) => {
        const h = await conn.call(conn.client.addHost, { name, agentAddr: opts.addr, underlayIp: opts.underlay ?? '' });
        if (opts.json) printJson(h);
        else process.stdout.write(`host ${h.name}: agent ${h.agentAddr}, underlay ${h.underlayIp}\n`);
      });
    });
  host.command('ls')
    .summary('list fleet hosts')
    .option('--json', 'print JSON')
    .action((opts: { json?: boolean }, cmd: Command) => printHosts(cmd, Boolean(opts.json)));
  addPurgeOptions(host.command('rm'))
    .summary('remove a host from the fleet; its certificates are revoked (--purge: also uninstall it over SSH)')
    .argument('<name>')
    .option('--force', 'also forget its attachments (its agent is not asked to remove them)')
    .action(async (name: string, opts: { force?: boolean; purge?: boolean; ssh?: string; controllerDir: string }, cmd: Command) => {
      const [{ withController }, { chooseController }] = await Promise.all([import('../client/controller.js'), import('../client/controller-address.js')]);
      const g = cmd.optsWithGlobals();
      // with no controller configured, host rm is about the host itself: revoke (and --purge)
      if (chooseController(g) || !(opts.purge || existsSync(opts.controllerDir))) {
        await withController(g, 'host rm', async (conn) => {
          await conn.call(conn.client.removeHost, { name, force: Boolean(opts.force) });
          process.stdout.write(`host ${name} removed\n`);
        });
      }
      if (opts.purge || existsSync(opts.controllerDir)) await purgeAndRevoke(name, opts);
    });
}
