// fleetnet cni install: fleetnet as a CNI plugin (issue 14).
import type { Command } from 'commander';

export function register(program: Command): void {
  const cni = program.command('cni').summary('fleetnet as a CNI plugin (podman, containerd, Multus)');
  cni
    .command('install')
    .summary('put the fleetnet and fleetnet-ipam plugins into the CNI plugin directory')
    .description(
      [
        'Writes two executables into the CNI plugin directory: `fleetnet` (interface + addresses: kinds bridge,',
        'ovs with VLAN, macvlan) and `fleetnet-ipam` (addresses only, under the reference bridge/macvlan/ipvlan',
        "plugins), plus an example network configuration list. Both hand each call to this host's agent",
        '(fleetnet agent run), which takes addresses from the fleet controller when it has one (--cni-controller).',
        "They are fleetnet's native plugin (a small C program, built with fleetnet) when this installation has it,",
        'else the Node.js plugin (--node-plugin to choose it): both behave alike, the native one starts faster.',
        '',
        'Examples:',
        '  fleetnet cni install                                   # /opt/cni/bin, /etc/cni/net.d/blue.conflist.example',
        '  fleetnet cni install --network blue --kind ovs --bridge ovs-blue --enable',
        '  fleetnet cni install --cni-bin-dir /usr/lib/cni --network lab --subnet 10.7.0.0/24 --enable',
      ].join('\n'),
    )
    .option('--cni-bin-dir <dir>', 'CNI plugin directory', '/opt/cni/bin')
    .option('--cni-config-dir <dir>', 'where the network configuration list goes', '/etc/cni/net.d')
    .option('--network <name>', 'network of the example configuration (a fleetnet network with a controller)', 'blue')
    .option('--kind <kind>', 'bridge, ovs or macvlan', 'bridge')
    .option('--bridge <name>', 'bridge (bridge, ovs) or parent interface (macvlan); default br-<network>')
    .option('--subnet <cidr>', 'local address pool (only when the agent has no controller)')
    .option('--enable', 'write <network>.conflist (used by runtimes) instead of <network>.conflist.example')
    .option(
      '--cni-version <v>',
      "the conflist's cniVersion: 1.0.0 (podman 4.3, containerd 1.6) or 1.1.0 (GC, STATUS)",
      '1.0.0',
    )
    .option('--node-plugin', 'install the Node.js plugin even when the native one was built')
    .option('--json', 'print what was written as JSON')
    .action(async (opts: Record<string, string | boolean | undefined>) => {
      const [{ installCni }, { packageRoot }, { invalid }, { join }] = await Promise.all([
        import('../../cni/install.js'),
        import('../../common/package-root.js'),
        import('../../common/errors.js'),
        import('node:path'),
      ]);
      const kind = String(opts.kind);
      if (kind !== 'bridge' && kind !== 'ovs' && kind !== 'macvlan')
        throw invalid(`--kind ${kind} is not a kind fleetnet's plugin makes`, 'use bridge, ovs or macvlan');
      const res = installCni({
        binDir: String(opts.cniBinDir),
        confDir: String(opts.cniConfigDir),
        bundle: join(packageRoot(), 'dist', 'cni-plugin.cjs'),
        node: process.execPath,
        native: join(packageRoot(), 'dist', `fleetnet-cni-${process.platform}-${process.arch}`),
        nodePlugin: Boolean(opts.nodePlugin),
        network: String(opts.network),
        kind,
        enable: Boolean(opts.enable),
        cniVersion: String(opts.cniVersion),
        ...(opts.bridge ? { bridge: String(opts.bridge) } : {}),
        ...(opts.subnet ? { subnet: String(opts.subnet) } : {}),
      });
      if (opts.json) process.stdout.write(`${JSON.stringify(res)}\n`);
      else
        process.stdout.write(
          `installed ${res.plugins.join(', ')} (${res.implementation} ` +
            `plugin)\nnetwork configuration: ${res.conflist}\n`,
        );
    });
}
