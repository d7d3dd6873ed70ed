// fleetnet attach: pipework's grammar, validated here before anything is sent.
import type { Command } from 'commander';
import { attachRequestOf, checkFamily, parseAttachWords } from '../../common/attach/index.js';
import { invalid } from '../../common/errors.js';
import { parseMac } from '../../common/mac.js';
import type { Interface } from '../../proto/gen/fleetnet/v1/agent.js';
import { connectAgent } from '../client/agent.js';
import { controllerFor, type Opts } from '../fleet/common.js';
import { addOptions, type OptionSpec } from '../option-spec.js';
import { printJson } from '../output/table.js';
import { fleetAttach } from './fleet-attach.js';

const EXAMPLES = `
Tokens are told apart by their syntax: one or two words before the first address
(HOSTIF CONTAINER, or just CONTAINER when a controller picks the network), then one
or more addresses, then optionally a MAC and/or @VLAN.

  CONTAINER  a Docker name or ID, a named netns, or an LXC name; a number is a PID;
             or say which: docker:NAME pid:N netns:NAME lxc:NAME /path/to/netns
  ADDRESS    10.1.1.5/24, fd00::5/64, 10.1.1.5/24@10.1.1.1 (sets the default route),
             0/0 (no address), or DHCP: udhcpc, dhclient, dhcpcd, dhcp (busybox udhcpc
             in a helper container), each with :OPTIONS (e.g. udhcpc:-O,ntpsrv)
  LAST       02:12:34:56:78:9a, U:web1.example.com (a stable MAC from the string,
             as pipework computes it), @VLAN, or both: U:web1@10

Examples:
  fleetnet attach br1 web1 192.168.1.10/24@192.168.1.254
  fleetnet attach br1 -i eth2 web1 10.1.1.5/24 fd00:1::5/64 U:web1
  fleetnet attach br1 netns:blue 10.1.1.6/24
  fleetnet attach --dry-run br1 4242 10.1.1.7/24      # print the commands, change nothing
  fleetnet attach ovsbr1 web1 10.1.1.5/24 @10         # OVS bridge (made when absent), VLAN tag 10
  fleetnet attach br1 web1 10.1.1.5/24 @10 --trunk eth0   # Linux bridge VLAN, tagged on eth0
  fleetnet attach eth0 web1 192.168.1.5/24 --macvlan-mode private   # macvlan on a NIC
  fleetnet attach ib0 web1 10.2.0.5/16 @8001          # IPoIB child, pkey 0x8001, named ib0
  fleetnet attach dummy web1 10.9.0.1/32              # a dummy interface in the container
  fleetnet attach mac:02:12:34:56:78:9a web1 10.1.1.5/24   # host interface found by its MAC
  fleetnet attach br1 web1 dhclient U:web1.example.com # a supervised DHCP client, stable lease
  fleetnet attach --dhcp-dns br1 web1 udhcpc           # also write the lease's DNS into web1

A missing host interface is created only when its name asks for it (br* makes a Linux
bridge, ovs* an Open vSwitch bridge) or --kind says so; any other missing name is an error, so a typo never
becomes a new bridge.

Exit codes: 0 done, 1 failed, 2 bad usage or input, 3 accepted but still pending.`;

export function describeInterface(i: Interface): string {
  const who = i.container ? i.container.name : '?';
  const all = [
    ...i.addresses,
    ...(i.lease
      ? [
          `${i.lease.address} (${i.lease.client} lease, ${i.lease.leaseSeconds} ` +
            `s${i.lease.clientPid ? `, pid ${i.lease.clientPid}` : ''})`,
        ]
      : []),
  ];
  const addrs = all.length ? all.join(' ') : 'no address';
  const gws = [...i.gateways, ...(i.lease?.router ? [i.lease.router] : [])];
  const gw = gws.length ? ` via ${gws.join(' ')}` : '';
  return (
    `${who} ${i.ifname} ${i.mac} ${addrs}${gw} on ${i.hostIf} (${i.kind}, host side ` +
    `${i.hostIfname || '-'}, mtu ${i.mtu})`
  );
}

/**
 * pipework's other forms: `mac:HOSTMAC` names the host interface by MAC (resolved by the agent); --direct-phys is
 * refused.
 */
export function pipeworkForms(
  words: string[],
  opts: Record<string, string | boolean | undefined>,
): { hostByMac?: string; words: string[] } {
  if (opts.directPhys) {
    throw invalid(
      '--direct-phys (moving a whole NIC into the container) is not supported: the NIC would vanish ' +
        'from the host and fleetnet could not give it back on detach',
      'give the container a macvlan on the NIC instead: fleetnet attach NIC CONTAINER ADDRESS --macvlan-mode ' +
        'passthru (the container gets all of its traffic); for an SR-IOV VF, attach the VF the same way',
    );
  }
  if (!words[0]?.startsWith('mac:')) return { words };
  const mac = parseMac(words[0].slice(4));
  return { hostByMac: mac, words: ['hostif-by-mac', ...words.slice(1)] };
}

/** attach's options, in the order its help lists them. */
export const ATTACH_OPTIONS: readonly OptionSpec[] = [
  ['-i, --ifname <name>', 'interface name inside the container (default eth1)'],
  ['-l, --host-ifname <name>', 'host-side interface name (default: derived from the container id, fn…)'],
  ['--kind <kind>', 'what the host interface is or should be made: bridge, ovs, macvlan, ipoib, dummy'],
  ['--macvlan-mode <mode>', 'macvlan on a NIC: bridge (default), private, vepa, passthru'],
  ['--vlan-filtering', 'with @VID on a Linux bridge fleetnet did not create: turn its vlan_filtering on'],
  ['--trunk <if>', 'with @VID on a Linux bridge: also carry the VLAN tagged on this uplink port'],
  ['--ovs-datapath <type>', "an OVS bridge fleetnet creates: system or netdev (default: the agent's)"],
  [
    '-a, --family <4|6>',
    "pipework's address family switch: checked against the addresses (fleetnet reads it from them)",
  ],
  ['--direct-phys', 'pipework\'s "move the whole NIC": refused, see the hint'],
  ['--mtu <bytes>', "the container interface's MTU (default: the host interface's); a bridge is not lowered"],
  ['--net <name>', 'network to attach to (with a controller)'],
  ['--dhcp-dns', "DHCP: write the lease's DNS servers into the container's own resolv.conf"],
  ['--dhcp-oneshot', "DHCP: take one lease, then stop the client (pipework's old behaviour: no renewals)"],
  ['--keep-address', 'keep the address and MAC reserved after the container is removed (default: freed)'],
  ['--host <name>', 'the fleet host the container runs on (with a controller)'],
  ['--timeout <seconds>', 'with a controller: how long to wait for the agent before exiting 3 (pending)', '30'],
  ['--dry-run', 'print the commands the agent would run, and change nothing'],
  ['--json', 'print the result as JSON'],
];

export function register(program: Command): void {
  addOptions(
    program
      .command('attach')
      .summary('give a container a new network interface')
      .description(
        'Give a container a new network interface, plugged into a host bridge, with addresses, MAC and gateway.',
      )
      .usage('[options] [HOSTIF] CONTAINER ADDRESS... [MAC|U:string][@VLAN]')
      .argument('<words...>', 'HOSTIF CONTAINER ADDRESS... [LAST], see below'),
    ATTACH_OPTIONS,
  )
    .addHelpText('after', EXAMPLES)
    .action((words: string[], opts: Opts, cmd: Command) => attachAction(words, opts, cmd.optsWithGlobals()));
}

/** `fleetnet attach WORDS…` with its options and the program's (`g`: commander's optsWithGlobals()). */
export async function attachAction(words: string[], opts: Opts, g: Opts): Promise<void> {
  const ctl = await controllerFor(g);
  if (ctl) return fleetAttach(ctl, words, opts);
  const { hostByMac, words: w } = pipeworkForms(words, opts);
  const spec = parseAttachWords(w, opts);
  checkFamily(opts.family, spec.addresses);
  if (!spec.hostIf) {
    throw invalid(
      'no host interface given',
      'write: fleetnet attach HOSTIF CONTAINER ADDRESS (a controller that picks the network comes later)',
    );
  }
  const { hostIf: _placeholder, ...byMac } = spec;
  const req = {
    ...attachRequestOf(hostByMac ? { ...byMac, hostIfByMac: parseMac(hostByMac) } : spec),
    keepAddress: Boolean(opts.keepAddress),
  };
  const conn = connectAgent(g.socket as string | undefined);
  try {
    const res = await conn.call(conn.client.attach, req);
    if (req.dryRun) {
      if (opts.json) printJson(res.commands);
      else process.stdout.write(res.commands.join('\n') + '\n');
      return;
    }
    if (opts.json) {
      // The attachment as its `ls --json` row (common/ls-schema.ts), which names the host as the agent does.
      const { attachJsonOf, lsEntryOf } = await import('../../common/inventory.js');
      const health = await conn.call(conn.client.health, {});
      const i = res.interface!;
      printJson(attachJsonOf(lsEntryOf(health.hostname, i), res.changed, i.lease));
    } else
      process.stdout.write(`${res.changed ? 'attached' : 'already attached'}: ${describeInterface(res.interface!)}\n`);
  } finally {
    conn.close();
  }
}
