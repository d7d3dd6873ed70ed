// fleetnet net create|ls|rm: the fleet's networks (subnets, IPAM ranges, bridge kind).
import type { Command } from 'commander';
import { parseMtu, parseVlanId } from '../../common/attach/index.js';
import { invalid } from '../../common/errors.js';
import { checkNetwork, parseNetworkName } from '../../common/network-spec.js';
import type { Network } from '../../proto/gen/fleetnet/v1/controller.js';
import { addOutputOptions, NETS_FORMAT_HELP, outputOf, type OutputSpec } from '../output/format.js';
import { printJson } from '../output/table.js';

const EXAMPLES = `
Examples:
  fleetnet net create blue --subnet 10.1.1.0/24 --gateway 10.1.1.1
  fleetnet net create green --subnet 10.2.0.0/24 --subnet fd00:2::/64 --ipam-range 10.2.0.100-10.2.0.199
  fleetnet net create lan --subnet 192.168.5.0/24 --kind macvlan --parent h1=eth1,h2=ens3
  fleetnet net create red --subnet 10.1.1.0/24 --kind ovs --bridge ovs-red --mesh gre
    # then: fleetnet mesh add h1 h2 --net red
  fleetnet net ls
  fleetnet net rm green                            # refused while anything is attached to it

The bridge on every host is br-<name> unless --bridge says otherwise (at most 15 bytes, so
default-bridge names are at most 12 characters). Network, broadcast and gateway addresses are
never handed out; allocations (attach --net N with no address) come from --ipam-range when given,
leaving the rest of the subnet to static addresses or a DHCP server.`;

const collect = (v: string, prev: string[] = []) => [...prev, v];

function parseParents(v: string | undefined): { parent: string; parents: Record<string, string> } {
  if (!v) return { parent: '', parents: {} };
  if (!v.includes('=')) return { parent: v, parents: {} };
  const parents: Record<string, string> = {};
  for (const part of v.split(',')) {
    const m = /^([^=]+)=([^=]+)$/.exec(part);
    if (!m) throw invalid(`--parent '${part}' is not HOST=IF`, 'write --parent eth1, or --parent h1=eth1,h2=ens3');
    parents[m[1]!] = m[2]!;
  }
  return { parent: '', parents };
}

function parseRanges(vs: string[]): { start: string; end: string }[] {
  return vs.map((v) => {
    const m = /^([^-]+)-([^-]+)$/.exec(v);
    if (!m) throw invalid(`--ipam-range '${v}' is not START-END`, 'write it like 10.1.1.100-10.1.1.199');
    return { start: m[1]!, end: m[2]! };
  });
}

function num(v: string | undefined, what: string): number {
  if (v === undefined) return 0;
  if (!/^\d+$/.test(v)) throw invalid(`${what} '${v}' is not a number`);
  return Number(v);
}

export async function printNets(cmd: Command, spec: OutputSpec): Promise<void> {
  const [{ withController }, { render }, { NETS_VIEW, networkItem }] = await Promise.all([
    import('../client/controller.js'),
    import('../output/render.js'),
    import('../output/views.js'),
  ]);
  await withController(cmd.optsWithGlobals(), 'net ls', async (conn) => {
    const res = await conn.call(conn.client.listNetworks, {});
    await render(spec, { items: res.networks.map(networkItem) }, NETS_VIEW);
  });
}

export function register(program: Command): void {
  const net = program.command('net').summary('create, list and remove fleet networks').addHelpText('after', EXAMPLES);
  net
    .command('create')
    .summary('create a network')
    .argument('<name>', 'lower-case letters, digits, - and _, up to 32, a letter or digit first')
    .option('--subnet <cidr>', 'an IPv4 and/or an IPv6 subnet (repeat for dual stack)', collect)
    .option('--gateway <ip>', 'gateway address, never handed out (repeat per family)', collect)
    .option('--ipam-range <start-end>', 'allocate from this range only (repeat per family)', collect)
    .option('--bridge <name>', 'host bridge on every host (default br-<name>)')
    .option('--kind <kind>', 'bridge, ovs or macvlan', 'bridge')
    .option('--parent <if|host=if,...>', 'macvlan parent, the same on every host or per host')
    .option('--vlan <id>', 'VLAN id 1-4094')
    .option('--mtu <bytes>', "MTU of the containers' interfaces")
    .option(
      '--mesh <encap>',
      "tunnel mesh between the network's hosts: gre or vxlan (then: fleetnet mesh add HOST --net NAME)",
    )
    .option('--mesh-key <n>', 'GRE key / VXLAN VNI (default: a free one)')
    .option('--mesh-port <port>', 'UDP port of kernel VXLAN on Linux-bridge networks (default 4789)')
    .option('--json', 'print JSON')
    .addHelpText('after', EXAMPLES)
    .action(async (name: string, opts: Record<string, string | string[] | boolean | undefined>, cmd: Command) => {
      const subnets = (opts.subnet as string[] | undefined) ?? [];
      if (!subnets.length)
        throw invalid(`network ${name} needs a subnet`, `add --subnet 10.1.1.0/24 (and/or --subnet fd00:1::/64)`);
      const { parent, parents } = parseParents(opts.parent as string | undefined);
      const network: Network = {
        name,
        subnets,
        gateways: (opts.gateway as string[] | undefined) ?? [],
        ipamRanges: parseRanges((opts.ipamRange as string[] | undefined) ?? []),
        bridge: (opts.bridge as string | undefined) ?? '',
        kind: String(opts.kind),
        parent,
        parents,
        vlan: opts.vlan !== undefined ? parseVlanId(String(opts.vlan)) : 0,
        mtu: opts.mtu !== undefined ? parseMtu(String(opts.mtu), '--mtu') : 0,
        createdUnixMs: 0,
        attachments: 0,
        mesh: (opts.mesh as string | undefined) ?? '',
        meshKey: num(opts.meshKey as string | undefined, '--mesh-key'),
        meshHosts: [],
        meshPort: num(opts.meshPort as string | undefined, '--mesh-port'),
      };
      if (!network.mesh && (network.meshKey || network.meshPort))
        throw invalid('--mesh-key and --mesh-port need --mesh gre|vxlan');
      // The controller's own check, here first: bad input exits 2 whether or not a controller answers.
      const { mesh, meshKey: key, meshPort: dstPort, ...fields } = network;
      checkNetwork({ ...fields, ...(mesh ? { mesh: { encap: mesh, key, dstPort } } : {}) });
      const { withController } = await import('../client/controller.js');
      await withController(cmd.optsWithGlobals(), 'net create', async (conn) => {
        const n = await conn.call(conn.client.createNetwork, { network });
        if (opts.json) printJson((await import('../output/views.js')).networkItem(n));
        else
          process.stdout.write(
            `network ${n.name}: ${n.subnets.join(' ')} on ${n.bridge || n.parent || 'per-host parents'} ` +
              `(${n.kind})${n.mesh ? `, mesh ${n.mesh} key ${n.meshKey}` : ''}\n`,
          );
      });
    });
  addOutputOptions(net.command('ls'), { ids: 'network names' })
    .summary('list networks')
    .addHelpText('after', NETS_FORMAT_HELP)
    .action(async (_opts: unknown, cmd: Command) => printNets(cmd, await outputOf(cmd)));
  net
    .command('rm')
    .summary('remove a network (refused while anything is attached to it)')
    .argument('<name>')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, opts: { json?: boolean }, cmd: Command) => {
      parseNetworkName(name);
      const { withController } = await import('../client/controller.js');
      await withController(cmd.optsWithGlobals(), 'net rm', async (conn) => {
        // a meshed network: the controller waits for its members' answers (as mesh rm does)
        const res = await conn.call(conn.client.removeNetwork, { name }, 60_000);
        if (opts.json) printJson({ network: name, ...res });
        else process.stdout.write(`network ${name} removed\n`);
        for (const h of res.hosts.filter((x) => x.error))
          process.stderr.write(
            `fleetnet: ${h.host} did not take the removal of ${name}: ${h.error}\n` +
              `  its bridge and tunnels of ${name} stay on ${h.host} until its agent answers ` +
              "(the controller retries; the agent's next start removes them too)\n",
          );
        // mesh rm's exit code: 3 when a member's agent did not answer (the removal stands, pending there)
        process.exitCode = (await import('./mesh.js')).memberExitCode(res.hosts);
      });
    });
}
