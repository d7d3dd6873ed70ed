// The mesh plan (pure): hosts and meshed networks in, the tunnels each host should have out.
// Full mesh per network: every member host gets one tunnel per other member. Names derive from
// (network, peer), so a host joining adds exactly one tunnel on each existing member and changes
// nothing else; the agent converges its host to its part with `diffTunnels`.
import { invalid } from '../errors.js';
import { parseIfName } from '../ifname.js';
import { tryParseAddr } from '../ip.js';
import {
  MAX_KEY,
  VXLAN_PORT,
  bridgeTunnelDeviceName,
  checkTunnel,
  ovsTunnelPortName,
  tunnelMtu,
  type MeshEncap,
  type MeshKind,
  type NetworkTunnels,
  type Tunnel,
} from '../mesh.js';

export { diffTunnels, tunnelMtu, ENCAP_OVERHEAD, type Tunnel, type TunnelDiff } from '../mesh.js';

export interface MeshHost {
  name: string;
  /** IPv4 underlay address the host's tunnels start from. */
  underlayIp: string;
  /** Default 1500. */
  underlayMtu?: number;
}

export interface MeshNetwork {
  name: string;
  kind: MeshKind;
  encap: MeshEncap;
  /** GRE key / VXLAN VNI: different per network, so networks with the same subnet stay apart. */
  key: number;
  /** The bridge on each host the tunnels plug into. */
  bridge: string;
  /** Names of the hosts in this network's mesh. */
  members: string[];
  /** Kernel VXLAN UDP port (kind bridge), default 4789. */
  dstPort?: number;
}

/** One network's part on one host. */
export type HostNetworkPlan = NetworkTunnels;

export interface HostPlan {
  host: string;
  networks: HostNetworkPlan[];
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

function checkInput(hosts: readonly MeshHost[], networks: readonly MeshNetwork[]): Map<string, MeshHost> {
  const byName = new Map<string, MeshHost>();
  const byIp = new Map<string, string>();
  for (const h of hosts) {
    if (!NAME_RE.test(h.name)) throw invalid(`host name '${h.name}' is not 1-63 of A-Z a-z 0-9 . _ -`);
    if (tryParseAddr(h.underlayIp)?.family !== 4)
      throw invalid(
        `host ${h.name}: underlay address '${h.underlayIp}' is not IPv4`,
        'register the host with its IPv4 underlay address',
      );
    if (byName.has(h.name)) throw invalid(`host ${h.name} is listed twice`);
    const other = byIp.get(h.underlayIp);
    if (other)
      throw invalid(
        `hosts ${other} and ${h.name} share underlay address ${h.underlayIp}`,
        'each host needs its own underlay address',
      );
    byName.set(h.name, h);
    byIp.set(h.underlayIp, h.name);
  }
  const keys = new Map<string, string>();
  for (const n of networks) {
    if (!NAME_RE.test(n.name)) throw invalid(`network name '${n.name}' is not 1-63 of A-Z a-z 0-9 . _ -`);
    parseIfName(n.bridge, `bridge of network ${n.name}`);
    if (!Number.isInteger(n.key) || n.key < 1 || n.key > MAX_KEY)
      throw invalid(`network ${n.name}: key ${n.key} is not 1..${MAX_KEY}`);
    // Same key and encapsulation on two networks would join their layer-2 domains.
    const k = `${n.encap}/${n.key}`;
    const other = keys.get(k);
    if (other)
      throw invalid(
        `networks ${other} and ${n.name} both use ${n.encap} key ${n.key}`,
        'give each meshed network its own key/VNI',
      );
    keys.set(k, n.name);
    for (const m of n.members) {
      if (!byName.has(m))
        throw invalid(
          `network ${n.name} lists member ${m}, which is not a known host`,
          'register the host first (fleetnet host add)',
        );
    }
  }
  return byName;
}

/** The desired tunnels of every host (hosts in no meshed network get an empty plan). Deterministic. */
export function planMesh(hosts: readonly MeshHost[], networks: readonly MeshNetwork[]): HostPlan[] {
  const byName = checkInput(hosts, networks);
  const sortedNets = [...networks].sort((a, b) => a.name.localeCompare(b.name));
  return [...byName.values()]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((self) => planOf(self, sortedNets, byName, new Map()));
}

/**
 * Tunnel port or device names by (network, peer), made once for all the hosts one call plans: every member has a
 * tunnel to a peer under the same name (a hash each: N² tunnels for N hosts, N names).
 */
type PortNames = Map<string, string>;

function portName(names: PortNames, n: MeshNetwork, peer: string): string {
  const k = `${n.name}\0${peer}`;
  let name = names.get(k);
  if (name === undefined) {
    name = n.kind === 'ovs' ? ovsTunnelPortName(n.name, peer, n.encap) : bridgeTunnelDeviceName(n.name, n.encap, peer);
    names.set(k, name);
  }
  return name;
}

function planOf(
  self: MeshHost,
  sortedNets: readonly MeshNetwork[],
  byName: Map<string, MeshHost>,
  names: PortNames,
): HostPlan {
  return {
    host: self.name,
    networks: sortedNets.filter((n) => n.members.includes(self.name)).map((n) => planNetwork(self, n, byName, names)),
  };
}

function planNetwork(self: MeshHost, n: MeshNetwork, byName: Map<string, MeshHost>, names: PortNames): HostNetworkPlan {
  const members = [...new Set(n.members)].sort().map((m) => byName.get(m)!);
  const mtu = tunnelMtu(Math.min(...members.map((m) => m.underlayMtu ?? 1500)), n.encap);
  const tunnels = members
    .filter((p) => p.name !== self.name)
    .map((peer) =>
      checkTunnel({
        network: n.name,
        kind: n.kind,
        encap: n.encap,
        key: n.key,
        bridge: n.bridge,
        port: portName(names, n, peer.name),
        peer: peer.name,
        peerIp: peer.underlayIp,
        localIp: self.underlayIp,
        ...(n.kind === 'bridge' && n.encap === 'vxlan' ? { dstPort: n.dstPort ?? VXLAN_PORT } : {}),
      }),
    );
  return {
    network: n.name,
    kind: n.kind,
    encap: n.encap,
    key: n.key,
    bridge: n.bridge,
    localIp: self.underlayIp,
    mtu,
    tunnels,
  };
}

/**
 * The plans of the named hosts (planMesh's entries for them; an empty one for a host in no meshed network),
 * from one check of the input: a push to each of N hosts costs O(N²) in all, not O(N³).
 */
export function planHosts(
  names: readonly string[],
  hosts: readonly MeshHost[],
  networks: readonly MeshNetwork[],
): Map<string, HostPlan> {
  const byName = checkInput(hosts, networks);
  const sortedNets = [...networks].sort((a, b) => a.name.localeCompare(b.name));
  const ports: PortNames = new Map();
  return new Map(
    names.map((host) => {
      const self = byName.get(host);
      return [host, self ? planOf(self, sortedNets, byName, ports) : { host, networks: [] }];
    }),
  );
}

/** One host's plan (planHosts for one). */
export function planForHost(host: string, hosts: readonly MeshHost[], networks: readonly MeshNetwork[]): HostPlan {
  return planHosts([host], hosts, networks).get(host)!;
}
