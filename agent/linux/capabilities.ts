// What this host can do, probed once in a scratch network namespace (`unshare -n`), so the
// probe can never touch the host's own interfaces.
import { readdirSync, readFileSync } from 'node:fs';
import type { Runner } from '../../common/runner.js';

export interface Capability {
  name: string;
  available: boolean;
  detail: string;
}

/** Link kinds probed by creating one of each; the kernel config option names the fix. */
const LINK_PROBES: { name: string; line: string; config: string }[] = [
  { name: 'bridge', line: 'link add fnp-br type bridge', config: 'CONFIG_BRIDGE' },
  { name: 'veth', line: 'link add fnp-v0 type veth peer name fnp-v1', config: 'CONFIG_VETH' },
  { name: 'macvlan', line: 'link add fnp-mv link fnp-v0 type macvlan mode bridge', config: 'CONFIG_MACVLAN' },
  { name: 'vxlan', line: 'link add fnp-vx type vxlan id 42 dstport 4789 local 127.0.0.1', config: 'CONFIG_VXLAN' },
  { name: '8021q', line: 'link add link fnp-v0 name fnp-vl type vlan id 5', config: 'CONFIG_VLAN_8021Q' },
  { name: 'dummy', line: 'link add fnp-du type dummy', config: 'CONFIG_DUMMY' },
  { name: 'gretap', line: 'link add fnp-gt type gretap remote 127.0.0.2 local 127.0.0.1', config: 'CONFIG_NET_IPGRE' },
  {
    name: 'bridge-vlan-filtering',
    line: 'link add fnp-bv type bridge vlan_filtering 1',
    config: 'CONFIG_BRIDGE_VLAN_FILTERING',
  },
];

const TOOLS: { name: string; cmd: string; pkg: string }[] = [
  { name: 'ovs-vsctl', cmd: 'ovs-vsctl', pkg: 'openvswitch-switch' },
  { name: 'dhclient', cmd: 'dhclient', pkg: 'isc-dhcp-client' },
  { name: 'udhcpc', cmd: 'udhcpc', pkg: 'udhcpc' },
  { name: 'dhcpcd', cmd: 'dhcpcd', pkg: 'dhcpcd-base' },
  { name: 'lxc-info', cmd: 'lxc-info', pkg: 'lxc' },
  // A host joining a user-space OVS mesh announces its underlay address with it (agent/mesh/tunnel-neigh.ts).
  { name: 'arping', cmd: 'arping', pkg: 'iputils-arping' },
];

export interface ProbeOptions {
  /** The agent's --ovs-db, passed to ovs-vsctl as --db=. */
  ovsDb?: string;
  sysClassNet?: string;
  /** Where loaded kernel modules show (`/sys/module`): the OVS system datapath needs `openvswitch`. */
  sysModule?: string;
}

export async function probeCapabilities(
  runner: Runner,
  pathDirs = (process.env.PATH ?? '').split(':'),
  opts: ProbeOptions = {},
): Promise<Capability[]> {
  const input = LINK_PROBES.map((p) => p.line).join('\n') + '\n';
  const r = await runner.run('unshare', ['-n', 'ip', '-force', '-batch', '-'], { input, allowFail: true });
  // Each failing line is reported as "Command failed -:N" after the kernel's own message.
  const failedLines = new Map<number, string>();
  const errs = r.stderr.split('\n');
  for (let i = 0; i < errs.length; i++) {
    const m = /Command failed -:(\d+)/.exec(errs[i]!);
    if (m) failedLines.set(Number(m[1]), (errs[i - 1] ?? '').trim());
  }
  const caps: Capability[] = LINK_PROBES.map((p, i) => {
    const why = failedLines.get(i + 1);
    return why === undefined
      ? { name: p.name, available: true, detail: 'kernel supports it' }
      : { name: p.name, available: false, detail: `this host's kernel has no ${p.name} support (${p.config}): ${why}` };
  });
  const { existsSync } = await import('node:fs');
  for (const t of TOOLS) {
    const found = pathDirs.find((d) => d && existsSync(`${d}/${t.cmd}`));
    caps.push(
      found
        ? { name: t.name, available: true, detail: `${found}/${t.cmd}` }
        : { name: t.name, available: false, detail: `${t.cmd} is not installed (Debian package ${t.pkg})` },
    );
  }
  const ovsInstalled = caps.find((c) => c.name === 'ovs-vsctl')?.available ?? false;
  caps.push(...(await probeOvs(runner, ovsInstalled, opts)));
  caps.push(probeIpoib(opts.sysClassNet));
  return caps;
}

/** OVS: is a database answering, and which datapaths can forward here (system needs the kernel module). */
export async function probeOvs(runner: Runner, installed: boolean, opts: ProbeOptions = {}): Promise<Capability[]> {
  const missing = (name: string, detail: string): Capability => ({ name, available: false, detail });
  if (!installed) {
    const why = 'ovs-vsctl is not installed (Debian package openvswitch-switch)';
    return [missing('ovs', why), missing('ovs-netdev', why), missing('ovs-system', why)];
  }
  const args = [
    ...(opts.ovsDb ? [`--db=${opts.ovsDb}`] : []),
    '--timeout=5',
    'get',
    'Open_vSwitch',
    '.',
    'datapath_types',
  ];
  const r = await runner
    .run('ovs-vsctl', args, { allowFail: true, timeoutMs: 10_000 })
    .catch((err: unknown) => ({ code: -1, stdout: '', stderr: String(err) }));
  if (r.code !== 0) {
    const why =
      `no Open vSwitch database answers${opts.ovsDb ? ` at ${opts.ovsDb}` : ''}: ` +
      `${r.stderr.trim().split('\n').pop() ?? ''}`;
    return [missing('ovs', why), missing('ovs-netdev', why), missing('ovs-system', why)];
  }
  const types = r.stdout
    .replace(/[[\]\s]/g, '')
    .split(',')
    .filter(Boolean);
  const { existsSync } = await import('node:fs');
  const kmod = existsSync(`${opts.sysModule ?? '/sys/module'}/openvswitch`);
  return [
    { name: 'ovs', available: true, detail: `ovs-vswitchd datapaths: ${types.join(', ') || 'none reported'}` },
    types.includes('netdev')
      ? { name: 'ovs-netdev', available: true, detail: 'user-space datapath' }
      : missing('ovs-netdev', 'ovs-vswitchd reports no netdev datapath'),
    kmod && types.includes('system')
      ? { name: 'ovs-system', available: true, detail: 'openvswitch kernel module loaded' }
      : missing(
          'ovs-system',
          "this host's kernel has no Open vSwitch datapath (openvswitch module, CONFIG_OPENVSWITCH)",
        ),
  ];
}

/** IPoIB parents: interfaces of ARP type 32 (InfiniBand). */
export function probeIpoib(sysClassNet = '/sys/class/net'): Capability {
  let names: string[] = [];
  try {
    names = readdirSync(sysClassNet)
      .sort()
      .filter((n) => {
        try {
          return readFileSync(`${sysClassNet}/${n}/type`, 'utf8').trim() === '32';
        } catch {
          return false;
        }
      });
  } catch {
    /* no sysfs: no devices */
  }
  return names.length
    ? { name: 'ipoib', available: true, detail: `InfiniBand devices: ${names.join(', ')}` }
    : { name: 'ipoib', available: false, detail: 'this host has no InfiniBand (IPoIB) device' };
}
