// A fleet network as the user describes it (`net create`), checked once: name, subnets, gateways, IPAM
// ranges, kind, bridge, parents, VLAN, MTU and mesh settings. Pure: the CLI runs it before it connects (bad
// input exits 2 whether or not a controller answers) and the controller runs it again on what it receives,
// before it builds the record it stores (controller/ipam/network-spec.ts).
import { invalid } from './errors.js';
import {
  contains,
  isLoopback,
  isMulticast,
  isReservedInNetwork,
  parseAddr,
  parseNetwork,
  type Cidr,
  type IpAddr,
} from './ip.js';
import { parseMtu, parseVlanId } from './attach/index.js';
import { parseIfName, parseNewIfName } from './ifname.js';
import { MAX_KEY } from './mesh.js';

export type NetworkKind = 'bridge' | 'ovs' | 'macvlan';

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
  mesh?: MeshInput;
}

export interface MeshInput {
  encap: string;
  key: number;
  dstPort?: number;
}

/** A NetworkInput checked, in canonical texts; the controller adds what only it knows (time, mesh members). */
export interface CheckedNetwork {
  name: string;
  /** Canonical CIDR texts, at most one per family. */
  subnets: string[];
  gateways: string[];
  ipamRanges: { start: string; end: string }[];
  bridge: string;
  kind: NetworkKind;
  parent: string;
  parents: Record<string, string>;
  vlan: number;
  mtu: number;
  mesh?: CheckedMesh;
}

export interface CheckedMesh {
  encap: 'gre' | 'vxlan';
  /** GRE key / VXLAN VNI, unique per encapsulation in the fleet (0 here: the controller picks a free one). */
  key: number;
  /** Kernel VXLAN UDP port (Linux-bridge networks), 0: 4789. */
  dstPort: number;
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

/** `--mesh gre|vxlan [--mesh-key N] [--mesh-port P]` on a network of this kind. */
export function checkMeshInput(m: MeshInput, kind: NetworkKind): CheckedMesh {
  if (m.encap !== 'gre' && m.encap !== 'vxlan') throw invalid(`--mesh '${m.encap}' is not gre or vxlan`);
  if (kind !== 'ovs' && kind !== 'bridge')
    throw invalid(`a ${kind} network cannot be meshed`, 'mesh a network of kind bridge or ovs');
  if (!Number.isInteger(m.key) || m.key < 0 || m.key > MAX_KEY)
    throw invalid(`--mesh-key ${m.key} is not 1..${MAX_KEY}`);
  const dstPort = m.dstPort ?? 0;
  if (!Number.isInteger(dstPort) || dstPort < 0 || dstPort > 65535)
    throw invalid(`--mesh-port ${dstPort} is not 1..65535`);
  return { encap: m.encap, key: m.key, dstPort };
}

function checkSubnets(name: string, texts: string[]): Cidr[] {
  if (texts.length === 0)
    throw invalid(`network ${name} has no subnet`, 'add --subnet 10.1.1.0/24 (and/or --subnet fd00:1::/64)');
  const subnets = texts.map((s) => parseNetwork(s));
  for (const s of subnets) {
    if (isMulticast(s.addr)) {
      throw invalid(
        `subnet ${s.text} is a multicast range, which no interface address may come from`,
        'give a unicast subnet, e.g. 10.1.1.0/24 or fd00:1::/64',
      );
    }
    if (isLoopback(s.addr)) {
      throw invalid(
        `subnet ${s.text} is loopback, which only a host's own lo may hold`,
        'give a subnet a link can carry, e.g. 10.1.1.0/24 or fd00:1::/64',
      );
    }
  }
  for (const f of [4, 6] as const) {
    if (subnets.filter((s) => s.addr.family === f).length > 1)
      throw invalid(`network ${name} has more than one IPv${f} subnet`, 'give at most one IPv4 and one IPv6 subnet');
  }
  return subnets;
}

/** Gateways and IPAM ranges, each inside one of the subnets. */
function checkAddresses(name: string, subnets: Cidr[], i: NetworkInput) {
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
  const ipamRanges = (i.ipamRanges ?? []).map((r) => {
    const start = parseAddr(r.start, 'range start');
    const end = parseAddr(r.end, 'range end');
    const s = subnetOf(start, 'IPAM range start');
    if (!contains(s, end)) throw invalid(`IPAM range ${start.text}-${end.text} leaves the subnet ${s.text}`);
    if (end.value < start.value) throw invalid(`IPAM range ${start.text}-${end.text} ends before it starts`);
    return { start: start.text, end: end.text };
  });
  return { gateways: gateways.map((g) => g.text), ipamRanges };
}

/** Kind, bridge (default br-NAME) and macvlan parents. */
function checkLinks(name: string, i: NetworkInput) {
  const kind = (i.kind || 'bridge') as NetworkKind;
  if (!KINDS.includes(kind)) throw invalid(`unknown network kind '${i.kind}'`, `use one of: ${KINDS.join(', ')}`);
  const bridge = i.bridge || (kind === 'macvlan' ? '' : `br-${name}`);
  if (!i.bridge && kind !== 'macvlan' && bridge.length > 15)
    throw invalid(
      `the bridge name from the network name, 'br-${name}', is longer than 15 bytes`,
      'use a network name of at most 12 characters, or give --bridge NAME',
    );
  if (bridge) parseNewIfName(bridge, '--bridge');
  if (kind === 'macvlan' && !i.parent && !Object.keys(i.parents ?? {}).length)
    throw invalid('a macvlan network needs --parent IF (or --parent h1=eth1,h2=ens3)');
  if (i.parent) parseIfName(i.parent, '--parent');
  for (const p of Object.values(i.parents ?? {})) parseIfName(p, '--parent');
  return { kind, bridge };
}

export function checkNetwork(i: NetworkInput): CheckedNetwork {
  const name = parseNetworkName(i.name);
  const subnets = checkSubnets(name, i.subnets);
  const { gateways, ipamRanges } = checkAddresses(name, subnets, i);
  const { kind, bridge } = checkLinks(name, i);
  // 0 is the proto's "none" for both.
  if (i.vlan) parseVlanId(String(i.vlan));
  if (i.mtu) parseMtu(i.mtu, '--mtu');
  return {
    name,
    subnets: subnets.map((s) => s.text),
    gateways,
    ipamRanges,
    bridge,
    kind,
    parent: i.parent ?? '',
    parents: { ...(i.parents ?? {}) },
    vlan: i.vlan ?? 0,
    mtu: i.mtu ?? 0,
    ...(i.mesh ? { mesh: checkMeshInput(i.mesh, kind) } : {}),
  };
}
