// A network as the user describes it, validated once: name, subnets, gateways, IPAM ranges, kind.
import { invalid } from '../../common/errors.js';
import { contains, hostMask, parseAddr, parseNetwork, type Cidr, type IpAddr } from '../../common/ip.js';
import { parseIfName } from '../../common/ifname.js';
import type { IpRangeRecord, NetworkKind, NetworkRecord } from '../store/types.js';

export interface NetworkInput {
  name: string;
  subnets: string[];
  gateways?: string[];
  ipamRanges?: { start: string; end: string }[];
  bridge?: string;
  kind?: string;
  parent?: string;
  parents?: Record<string, string>;
  vlan?: number;
  mtu?: number;
}

const NAME_RE = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const KINDS: NetworkKind[] = ['bridge', 'ovs', 'macvlan'];

export function parseNetworkName(name: string): string {
  if (!NAME_RE.test(name)) {
    throw invalid(`network name '${name}' is not valid`, 'use 1-32 lower-case letters, digits, - and _, starting with a letter or digit');
  }
  return name;
}

/** The first and last address a network can give to an interface (network and broadcast excluded). */
export function usableBounds(net: Cidr): { first: bigint; last: bigint } {
  const size = hostMask(net.addr.family, net.prefix);
  const base = net.addr.value;
  if (net.addr.family === 4 && net.prefix >= 31) return { first: base, last: base + size };
  // IPv4: network and broadcast; IPv6: the subnet-router anycast address (the network address).
  return { first: base + 1n, last: net.addr.family === 4 ? base + size - 1n : base + size };
}

export function isReservedInNetwork(net: Cidr, a: IpAddr): string | undefined {
  const { first, last } = usableBounds(net);
  if (a.value === net.addr.value && first !== net.addr.value) return 'the network address';
  if (net.addr.family === 4 && a.value === last + 1n && net.prefix < 31) return 'the broadcast address';
  if (a.value < first || a.value > last) return 'outside the usable range';
  return undefined;
}

export function buildNetwork(i: NetworkInput, nowMs: number): NetworkRecord {
  const name = parseNetworkName(i.name);
  if (i.subnets.length === 0) throw invalid(`network ${name} has no subnet`, 'add --subnet 10.1.1.0/24 (and/or --subnet fd00:1::/64)');
  const subnets = i.subnets.map((s) => parseNetwork(s));
  for (const f of [4, 6] as const) {
    if (subnets.filter((s) => s.addr.family === f).length > 1) throw invalid(`network ${name} has more than one IPv${f} subnet`, 'give at most one IPv4 and one IPv6 subnet');
  }
  const subnetOf = (a: IpAddr, what: string): Cidr => {
    const s = subnets.find((n) => contains(n, a));
    if (!s) throw invalid(`${what} ${a.text} is not inside any subnet of ${name} (${subnets.map((x) => x.text).join(', ')})`);
    return s;
  };
  const gateways = (i.gateways ?? []).map((g) => parseAddr(g, 'gateway'));
  for (const g of gateways) {
    const why = isReservedInNetwork(subnetOf(g, 'gateway'), g);
    if (why) throw invalid(`gateway ${g.text} is ${why} of its subnet`);
  }
  for (const f of [4, 6] as const) {
    if (gateways.filter((g) => g.family === f).length > 1) throw invalid(`more than one IPv${f} gateway`);
  }
  const ranges: IpRangeRecord[] = (i.ipamRanges ?? []).map((r) => {
    const start = parseAddr(r.start, 'range start');
    const end = parseAddr(r.end, 'range end');
    const s = subnetOf(start, 'IPAM range start');
    if (!contains(s, end)) throw invalid(`IPAM range ${start.text}-${end.text} leaves the subnet ${s.text}`);
    if (end.value < start.value) throw invalid(`IPAM range ${start.text}-${end.text} ends before it starts`);
    return { start: start.text, end: end.text };
  });
  const kind = (i.kind || 'bridge') as NetworkKind;
  if (!KINDS.includes(kind)) throw invalid(`unknown network kind '${i.kind}'`, `use one of: ${KINDS.join(', ')}`);
  const bridgeName = i.bridge || (kind === 'macvlan' ? '' : `br-${name}`);
  if (!i.bridge && kind !== 'macvlan' && bridgeName.length > 15) throw invalid(`the bridge name from the network name, 'br-${name}', is longer than 15 bytes`, 'use a network name of at most 12 characters, or give --bridge NAME');
  if (bridgeName) parseIfName(bridgeName, '--bridge');
  if (kind === 'macvlan' && !i.parent && !Object.keys(i.parents ?? {}).length) throw invalid('a macvlan network needs --parent IF (or --parent h1=eth1,h2=ens3)');
  if (i.parent) parseIfName(i.parent, '--parent');
  for (const p of Object.values(i.parents ?? {})) parseIfName(p, '--parent');
  if (i.vlan !== undefined && i.vlan !== 0 && (!Number.isInteger(i.vlan) || i.vlan < 1 || i.vlan > 4094)) throw invalid(`--vlan ${i.vlan} is out of range (1-4094)`);
  if (i.mtu !== undefined && i.mtu !== 0 && (!Number.isInteger(i.mtu) || i.mtu < 68 || i.mtu > 65535)) throw invalid(`--mtu ${i.mtu} is out of range (68-65535)`);
  return {
    name,
    subnets: subnets.map((s) => s.text),
    gateways: gateways.map((g) => g.text),
    ipamRanges: ranges,
    bridge: bridgeName,
    kind,
    parent: i.parent ?? '',
    parents: { ...(i.parents ?? {}) },
    vlan: i.vlan ?? 0,
    mtu: i.mtu ?? 0,
    createdMs: nowMs,
    cursors: {},
  };
}

