// Reviewed fixtures: the exact commands the agent runs for what this kernel cannot do
// (8021q, dummy, IPoIB, bridge vlan_filtering, OVS kernel datapath). Used by the argv-exact unit
// test and replayed by test/privileged/parity-kernel-errors.test.ts in a throwaway namespace.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import pino from 'pino';
import { Attacher } from '../../agent/attach/attacher.js';
import { RecordStore } from '../../agent/attach/records.js';
import type { ContainerInfo } from '../../agent/containers/types.js';
import type { Capability } from '../../agent/linux/capabilities.js';
import { ipExec } from '../../agent/linux/ip.js';
import { attachOrderFromProto } from '../../agent/service/convert.js';
import { FakeRunner, type RecordedCall, type RunResult } from '../../common/runner.js';
import type { AttachRequest } from '../../proto/gen/fleetnet/v1/agent.js';
import { attachRequest } from '../helpers/attach-request.js';

export const NETNS = '/proc/4242/ns/net';
export const CONTAINER: ContainerInfo = {
  runtime: 'pid',
  id: '4242',
  name: '4242',
  pid: 4242,
  netns: NETNS,
  nsKey: '0:4242',
};
/** hostIfName('pid', '4242', IF): the deterministic temporary / host-side name. */
export const TMP_ETH1 = 'fn925cadea24ea';
export const TMP_IB0 = 'fnd6a44a3e6477';

/** Temporary folders made here, removed when the test file ends. */
const temps: string[] = [];
after(() => {
  for (const d of temps.splice(0)) rmSync(d, { recursive: true, force: true });
});

export function tmp(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  temps.push(d);
  return d;
}

/**
 * A fake /sys/class/net: eth0 (a NIC), ib0 (InfiniBand), br9 (a Linux bridge fleetnet did not make),
 * up0 (a port of br9).
 */
export function fakeSys(): string {
  const dir = tmp('fnp-sys-');
  const link = (name: string, type: number, mtu: number, mac: string, extra: Record<string, string> = {}) => {
    mkdirSync(join(dir, name), { recursive: true });
    for (const [f, v] of Object.entries({
      type: String(type),
      mtu: String(mtu),
      address: mac,
      ifalias: '',
      ...extra,
    })) {
      mkdirSync(join(dir, name, f, '..'), { recursive: true });
      writeFileSync(join(dir, name, f), `${v}\n`);
    }
  };
  link('eth0', 1, 1500, '52:54:00:12:34:56');
  link('ib0', 32, 2044, '80:00:02:08:fe:80:00:00:00:00:00:00:00:11:22:33:44:55:66:77');
  link('br9', 1, 1500, '02:00:00:00:00:09', { 'bridge/vlan_filtering': '0' });
  link('up0', 1, 1500, '02:00:00:00:00:10');
  symlinkSync('../br9', join(dir, 'up0', 'master'));
  return dir;
}

export function request(over: Partial<AttachRequest>): AttachRequest {
  return attachRequest({ hostIf: '', target: { kind: 'pid', value: '4242' }, ...over });
}

const ALL_CAPS = [
  'bridge',
  'veth',
  'macvlan',
  '8021q',
  'dummy',
  'bridge-vlan-filtering',
  'ovs',
  'ovs-netdev',
  'ovs-system',
  'ipoib',
];

/** An attacher on a FakeRunner: ovs-vsctl br-exists says "no", the container's batch reads back eth1/ib0. */
/** An interface already in the container (an earlier run's, or someone else's): its alias, addresses and MAC. */
export interface FoundInContainer {
  ifname: string;
  ifalias: string;
  addresses: string[];
  mac: string;
  mtu?: number;
}

export interface FakeAttacherOptions {
  missing?: string[];
  ovsBridges?: string[];
  /** OVS bridges in the database that ovs-vswitchd could not make (no datapath_id). */
  brokenBridges?: string[];
  ownerMark?: string;
  found?: FoundInContainer;
  /** OVS bridges that carry fleetnet's mark (external_ids:fleetnet=owned) and hold no port. */
  ownedOvsBridges?: string[];
  /** A call whose `show` line matches fails (exit 2, this stderr). */
  fail?: { match: RegExp; stderr: string };
  /** Links the kernel finds by a name (`ip -details link show dev NAME`, alternative names too): name, kind. */
  kernelLinks?: Record<string, { ifname: string; kind: string }>;
  /** Containers by target value (default: every target is CONTAINER). */
  containers?: Record<string, ContainerInfo>;
}

export function fakeAttacher(opts: FakeAttacherOptions = {}) {
  const sys = fakeSys();
  const found = opts.found;
  const runner: FakeRunner = new FakeRunner((call: RecordedCall): Partial<RunResult> | undefined => {
    if (found && call.cmd === 'nsenter' && call.args.join(' ').endsWith(`ip -json link show dev ${found.ifname}`)) {
      const link = { ifname: found.ifname, mtu: found.mtu ?? 1500, address: found.mac, ifalias: found.ifalias };
      return { stdout: JSON.stringify([link]) };
    }
    if (found && call.cmd === 'nsenter' && call.input === `addr show dev ${found.ifname}\n`) {
      const addr_info = found.addresses.map((a) => {
        const [local, prefix] = a.split('/');
        return { family: 'inet', local, prefixlen: Number(prefix), scope: 'global' };
      });
      const link = { ifname: found.ifname, mtu: found.mtu ?? 1500, address: found.mac, operstate: 'UP', addr_info };
      return { stdout: JSON.stringify([link]) };
    }
    if (opts.fail && opts.fail.match.test(show([call])[0]!)) return { code: 2, stderr: opts.fail.stderr };
    if (call.cmd === 'ip' && call.args.includes('-details')) {
      const l = opts.kernelLinks?.[call.args.at(-1)!];
      if (!l) return { code: 1, stderr: `Device "${call.args.at(-1)}" does not exist.` };
      return { stdout: JSON.stringify([{ ifname: l.ifname, ...(l.kind ? { linkinfo: { info_kind: l.kind } } : {}) }]) };
    }
    if (call.cmd === 'ovs-vsctl' && call.args.includes('br-get-external-id'))
      return { stdout: opts.ownedOvsBridges?.includes(call.args.at(-2)!) ? 'owned\n' : '' };
    if (call.cmd === 'ovs-vsctl' && call.args.includes('br-exists'))
      return { code: opts.ovsBridges?.includes(call.args.at(-1)!) ? 0 : 2 };
    if (call.cmd === 'ovs-vsctl' && call.args.includes('list') && call.args.includes('bridge')) {
      // ovs-vswitchd made the bridge (a datapath_id), or could not (the empty set: no kernel datapath).
      const br = call.args.at(-1)!;
      const id = opts.brokenBridges?.includes(br) ? ['set', []] : '0000aabbccddeeff';
      const table = { headings: ['name', 'datapath_type', 'datapath_id'], data: [[br, 'system', id]] };
      return { stdout: JSON.stringify(table) };
    }
    if (call.cmd === 'nsenter' && call.input?.includes('addr show dev')) {
      const ifname = /addr show dev (\S+)/.exec(call.input)![1]!;
      const addrs = [...call.input.matchAll(/addr add (\S+)\/(\d+) dev/g)].map((m) => ({
        family: m[1]!.includes(':') ? 'inet6' : 'inet',
        local: m[1],
        prefixlen: Number(m[2]),
        scope: 'global',
      }));
      const made: string = runner.calls.map((c: RecordedCall) => c.input ?? '').join(' ');
      // The container's end: a veth's peer (its host end may keep the bridge's MTU), else the interface made.
      const mtu = Number((/peer name \S+(?: num\w+ \d+)* mtu (\d+)/.exec(made) ?? /mtu (\d+)/.exec(made))?.[1] ?? 1500);
      const address = /address (\S+)/.exec(made)?.[1] ?? '02:00:00:aa:bb:cc';
      return { stdout: JSON.stringify([{ ifname, mtu, address, operstate: 'UP', addr_info: addrs }]) };
    }
    return undefined;
  });
  const caps: Capability[] = ALL_CAPS.map((name) => ({
    name,
    available: !opts.missing?.includes(name),
    detail:
      name === 'ovs-system'
        ? "this host's kernel has no Open vSwitch datapath (openvswitch module, CONFIG_OPENVSWITCH)"
        : `this host's kernel has no ${name} support`,
  }));
  const attacher = new Attacher({
    runner,
    ip: ipExec(runner),
    records: new RecordStore(tmp('fnp-state-')),
    resolver: { resolve: async (t) => opts.containers?.[t.value] ?? CONTAINER },
    log: pino({ level: 'silent' }),
    sysClassNet: sys,
    garp: false,
    ovsDb: 'unix:/run/fnp/db.sock',
    capabilities: async () => caps,
    ...(opts.ownerMark ? { ownerMark: opts.ownerMark } : {}),
  });
  const attach = async (over: Partial<AttachRequest>) => attacher.attach(attachOrderFromProto(request(over), sys));
  return { runner, attacher, attach, sys };
}

/** Calls as `cmd argv… <<< input` strings: what a reviewer reads. */
export function show(calls: RecordedCall[]): string[] {
  return calls.map(
    (c) => [c.cmd, ...c.args].join(' ') + (c.input ? ` <<< ${c.input.trimEnd().split('\n').join(' | ')}` : ''),
  );
}

export const NS = 'nsenter --net=/proc/4242/ns/net';

/** `tc` tokens for a token-bucket qdisc on eth1 (1 Mbit/s): parsed in parity-parsing, run for real in parity-attach. */
export const TBF_QDISC: readonly string[] = [
  'qdisc',
  'add',
  'dev',
  'eth1',
  'root',
  'tbf',
  'rate',
  '1mbit',
  'burst',
  '32kbit',
  'latency',
  '400ms',
];
const DB = 'ovs-vsctl --db=unix:/run/fnp/db.sock --timeout=10';

export const EXPECTED: Record<string, { req: Partial<AttachRequest>; argv: string[] }> = {
  'macvlan @VID makes eth0.10 (8021q), marks it, and a macvlan straight into the container': {
    req: { hostIf: 'eth0', vlan: '10' },
    argv: [
      `${DB} br-exists eth0`,
      `${NS} ip -json link show dev eth1`,
      'ip -json -batch - <<< link add link eth0 name eth0.10 type vlan id 10 | link set eth0.10 alias fleetnet:owned ' +
        '| link set eth0.10 up',
      'ip -json -batch - <<< link add fn925cadea24ea link eth0.10 mtu 1500 netns /proc/4242/ns/net type macvlan mode ' +
        'bridge',
      `${NS} ip -json -batch - <<< link set fn925cadea24ea name eth1 | addr add 10.1.1.5/24 dev eth1 ` +
        `| link set eth1 addrgenmode none up | addr show dev eth1`,
    ],
  },
  'macvlan mode private with a MAC': {
    req: { hostIf: 'eth0', macvlanMode: 'private', mac: '02:12:34:56:78:9a' },
    argv: [
      `${DB} br-exists eth0`,
      `${NS} ip -json link show dev eth1`,
      'ip -json -batch - <<< link add fn925cadea24ea link eth0 mtu 1500 address 02:12:34:56:78:9a netns ' +
        '/proc/4242/ns/net type macvlan mode private',
      `${NS} ip -json -batch - <<< link set fn925cadea24ea name eth1 | addr add 10.1.1.5/24 dev eth1 ` +
        `| link set eth1 addrgenmode none up | addr show dev eth1`,
    ],
  },
  'dummy, dual stack': {
    req: {
      hostIf: 'dummy',
      addresses: [{ static: { cidr: '10.9.0.1/32', gateway: '' } }, { static: { cidr: 'fd00::1/128', gateway: '' } }],
    },
    argv: [
      `${NS} ip -json link show dev eth1`,
      'ip -json -batch - <<< link add fn925cadea24ea mtu 1500 netns /proc/4242/ns/net type dummy',
      `${NS} sysctl -q -w net/ipv6/conf/fn925cadea24ea/disable_ipv6=0`,
      `${NS} ip -json -batch - <<< link set fn925cadea24ea name eth1 | addr add 10.9.0.1/32 dev eth1 ` +
        `| addr add fd00::1/128 dev eth1 nodad | link set eth1 up | addr show dev eth1`,
    ],
  },
  'IPoIB child with pkey 0x8001 (hex, as pipework reads @8001), named ib0': {
    req: { hostIf: 'ib0', vlan: '8001' },
    argv: [
      `${NS} ip -json link show dev ib0`,
      'ip -json -batch - <<< link add link ib0 name fnd6a44a3e6477 mtu 2044 netns /proc/4242/ns/net type ipoib pkey ' +
        '0x8001',
      `${NS} ip -json -batch - <<< link set fnd6a44a3e6477 name ib0 | addr add 10.1.1.5/24 dev ib0 ` +
        `| link set ib0 addrgenmode none up | addr show dev ib0`,
    ],
  },
  'Linux bridge VLAN on a bridge fleetnet creates: vlan_filtering on, PVID untagged, VID 1 removed': {
    req: { hostIf: 'brv1', vlan: '10' },
    argv: [
      'ip -json -details link show dev brv1', // no other link answers to the name
      'ip -json -batch - <<< link add brv1 address 86:95:bb:d3:ce:96 type bridge ' +
        '| link set brv1 alias fleetnet:owned | link set brv1 up', // fixed MAC: bridgeMac('brv1')
      'ip -json -batch - <<< link set brv1 type bridge vlan_filtering 1 ' +
        '| link add fn925cadea24ea numtxqueues 1 numrxqueues 1 mtu 1500 type veth ' +
        'peer name eth1 numtxqueues 1 numrxqueues 1 mtu 1500 netns /proc/4242/ns/net ' +
        '| link set fn925cadea24ea master brv1 addrgenmode none up',
      'bridge -batch - <<< vlan add dev fn925cadea24ea vid 10 pvid untagged | vlan del dev fn925cadea24ea vid 1',
      `${NS} ip -json -batch - <<< addr add 10.1.1.5/24 dev eth1 | link set eth1 addrgenmode none up ` +
        `| addr show dev eth1`,
    ],
  },
  'Linux bridge VLAN on a found bridge with --vlan-filtering and --trunk': {
    req: { hostIf: 'br9', vlan: '20', vlanFiltering: true, trunk: 'up0' },
    argv: [
      'ip -json -batch - <<< link set br9 type bridge vlan_filtering 1 ' +
        '| link add fn925cadea24ea numtxqueues 1 numrxqueues 1 mtu 1500 type veth ' +
        'peer name eth1 numtxqueues 1 numrxqueues 1 mtu 1500 netns /proc/4242/ns/net ' +
        '| link set fn925cadea24ea master br9 addrgenmode none up',
      'bridge -batch - <<< vlan add dev fn925cadea24ea vid 20 pvid untagged | vlan del dev fn925cadea24ea vid 1 ' +
        '| vlan add dev up0 vid 20',
      `${NS} ip -json -batch - <<< addr add 10.1.1.5/24 dev eth1 | link set eth1 addrgenmode none up ` +
        `| addr show dev eth1`,
    ],
  },
  'OVS bridge created with the netdev datapath, port tagged and carrying external_ids': {
    req: { hostIf: 'ovsbr1', vlan: '10', ovsDatapath: 'netdev' },
    argv: [
      `${DB} br-exists ovsbr1`,
      'ip -json -details link show dev ovsbr1', // no other link answers to the name
      `${DB} br-exists ovsbr1`,
      `${DB} --may-exist add-br ovsbr1 -- set bridge ovsbr1 datapath_type=netdev ` +
        `-- br-set-external-id ovsbr1 fleetnet owned`,
      `${DB} --format=json --columns=name,datapath_type,datapath_id list bridge ovsbr1`,
      'ip -json -batch - <<< link add fn925cadea24ea numtxqueues 1 numrxqueues 1 mtu 1500 type veth ' +
        'peer name eth1 numtxqueues 1 numrxqueues 1 mtu 1500 netns ' +
        '/proc/4242/ns/net | link set fn925cadea24ea addrgenmode none up',
      `${DB} --may-exist add-port ovsbr1 fn925cadea24ea tag=10 ` +
        `-- set port fn925cadea24ea external_ids:fleetnet-attachment=pid:4242/eth1 ` +
        `external_ids:fleetnet-container=4242 external_ids:fleetnet-ifname=eth1`,
      `${NS} ip -json -batch - <<< addr add 10.1.1.5/24 dev eth1 | link set eth1 addrgenmode none up ` +
        `| addr show dev eth1`,
    ],
  },
};

/** The container's eth1 as `ip -json addr show` reads it back inside the namespace, with the addresses just added. */
export function eth1ReadBack(call: RecordedCall): Partial<RunResult> | undefined {
  const input = call.input ?? '';
  if (call.cmd !== 'nsenter' || !input.includes('addr show dev eth1')) return undefined;
  const addr_info = [...input.matchAll(/addr add (\S+)\/(\d+) dev/g)].map((m) => {
    return { family: 'inet', local: m[1], prefixlen: Number(m[2]), scope: 'global' };
  });
  return { stdout: JSON.stringify([{ ifname: 'eth1', mtu: 1500, address: '02:00:00:aa:bb:cc', addr_info }]) };
}
