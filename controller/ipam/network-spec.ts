// A network as the user describes it, validated once: name, subnets, gateways, IPAM ranges, kind.
import { meshOfInput } from '../mesh/fleet-mesh.js';
import { invalid } from '../../common/errors.js';
import {
  contains,
  isMulticast,
  isReservedInNetwork,
  parseAddr,
  parseNetwork,
  usableBounds,
  type Cidr,
  type IpAddr,
} from '../../common/ip.js';
import { parseMtu, parseVlanId } from '../../common/attach/index.js';
import { parseIfName, parseNewIfName } from '../../common/ifname.js';
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
  /** `--mesh gre|vxlan` (key 0: the controller picks a free one). */
  mesh?: { encap: string; key: number; dstPort?: number };
}

const NAME_RE = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const KINDS: NetworkKind[] = ['bridge', 'ovs', 'macvlan'];

export function parseNetworkName(name: string): string {
  if (!NAME_RE.test(name)) {
    throw invalid(
      `network name '${name}' is not valid`,
      'use 1-32 lower-case letters, digits, - and _, starting with a letter or digit',
    );
  }
  return name;
}

export { isReservedInNetwork, usableBounds };

export function buildNetwork(i: NetworkInput, nowMs: number): NetworkRecord {
  const name = parseNetworkName(i.name);
  if (i.subnets.length === 0)
    throw invalid(`network ${name} has no subnet`, 'add --subnet 10.1.1.0/24 (and/or --subnet fd00:1::/64)');
  const subnets = i.subnets.map((s) => parseNetwork(s));
  for (const s of subnets) {
    if (isMulticast(s.addr)) {
      throw invalid(
        `subnet ${s.text} is a multicast range, which no interface address may come from`,
        'give a unicast subnet, e.g. 10.1.1.0/24 or fd00:1::/64',
      );
    }
  }
  for (const f of [4, 6] as const) {
    if (subnets.filter((s) => s.addr.family === f).length > 1)
      throw invalid(`network ${name} has more than one IPv${f} subnet`, 'give at most one IPv4 and one IPv6 subnet');
  }
  const subnetOf = (a: IpAddr, what: string): Cidr => {
    const s = subnets.find((n) => contains(n, a));
    if (!s)
      throw invalid(`${what} ${a.text} is not inside any subnet of ${name} (${subnets.map((x) => x.text).join(', ')})`);
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
  if (!i.bridge && kind !== 'macvlan' && bridgeName.length > 15)
    throw invalid(
      `the bridge name from the network name, 'br-${name}', is longer than 15 bytes`,
      'use a network name of at most 12 characters, or give --bridge NAME',
    );
  if (bridgeName) parseNewIfName(bridgeName, '--bridge');
  if (kind === 'macvlan' && !i.parent && !Object.keys(i.parents ?? {}).length)
    throw invalid('a macvlan network needs --parent IF (or --parent h1=eth1,h2=ens3)');
  if (i.parent) parseIfName(i.parent, '--parent');
  for (const p of Object.values(i.parents ?? {})) parseIfName(p, '--parent');
  // 0 is the proto's "none" for both.
  if (i.vlan) parseVlanId(String(i.vlan));
  if (i.mtu) parseMtu(i.mtu, '--mtu');
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
    ...(i.mesh ? { mesh: meshOfInput(i.mesh, kind) } : {}),
  };
}
