// The tunnel mesh's shared vocabulary (pure): one tunnel = one (network, peer) pair on one host.
// The controller plans tunnels with it, the agent reads its host's tunnels back into the same
// shape, and `diffTunnels` says what to add and remove; nothing else is ever touched.
import { createHash } from 'node:crypto';
import { invalid } from './errors.js';
import { parseIfName, type IfName } from './ifname.js';
import { isIPv4Text } from './ip.js';

export type MeshEncap = 'gre' | 'vxlan';
/** ovs: one OVS tunnel port per peer. bridge: one kernel VXLAN/gretap device per network, one flood entry per peer. */
export type MeshKind = 'ovs' | 'bridge';

export const VXLAN_PORT = 4789;
/** The longest wait for "every tunnel up" one mesh status call may ask for (agent and controller). */
export const MAX_WAIT_UP_MS = 600_000;

/** A status request's wait for "up", refused (not cut short) above MAX_WAIT_UP_MS. */
export function checkWaitUpMs(ms: number): number {
  if (ms > MAX_WAIT_UP_MS)
    throw invalid(`a wait of ${ms} ms for the tunnels to come up is over ${MAX_WAIT_UP_MS} ms`, 'wait less');
  return ms;
}
/** Kinds of a network's mesh error (MeshError.kind) that will not pass by waiting (permanentMeshError). */
const PERMANENT_KINDS: ReadonlySet<string> = new Set(['invalid', 'not_found', 'ambiguous', 'conflict', 'unsupported']);

/**
 * Whether a network's mesh error will not pass by waiting: its configuration refused (invalid, not_found, ambiguous,
 * conflict) or a host that cannot do it (unsupported: no gretap, no datapath, no firewall tool). failed (a command)
 * and unavailable (OVS, an agent) may pass, the agent's next pass tries again; "" (an older agent) is not known to.
 */
export function permanentMeshError(kind: string): boolean {
  return PERMANENT_KINDS.has(kind);
}
export const MAX_KEY = 0xffffff; // VXLAN VNIs are 24 bits; GRE keys fleetnet hands out stay in the same range

/**
 * Bytes the encapsulation adds to an inner IP packet, measured with DF pings through user-space
 * OVS and kernel VXLAN on a 1500-byte underlay (see test/privileged/mesh-ovs.test.ts):
 *  - GRE (tap, with key): inner Ethernet 14 + GRE 4 + key 4 + outer IPv4 20 = 42
 *  - VXLAN: inner Ethernet 14 + VXLAN 8 + UDP 8 + outer IPv4 20 = 50
 */
export const ENCAP_OVERHEAD: Readonly<Record<MeshEncap, number>> = Object.freeze({ gre: 42, vxlan: 50 });

export function tunnelMtu(underlayMtu: number, encap: MeshEncap): number {
  const mtu = underlayMtu - ENCAP_OVERHEAD[encap];
  if (!Number.isInteger(underlayMtu) || mtu < 576) {
    throw invalid(
      `underlay MTU ${underlayMtu} leaves ${mtu} bytes after ${encap} overhead`,
      'give an underlay MTU of at least 626 (68..65535 bytes per Linux, 576 minimum inside)',
    );
  }
  return mtu;
}

/**
 * One tunnel on one host. For kind=bridge + vxlan, `port` is the network's VXLAN device and the tunnel is its flood
 * entry to `peerIp`.
 */
export interface Tunnel {
  network: string;
  kind: MeshKind;
  encap: MeshEncap;
  key: number;
  bridge: string;
  /** Port (ovs) or device (bridge) name, ≤ 15 bytes, derived from (network, peer) or (network). */
  port: string;
  peer: string;
  peerIp: string;
  localIp: string;
  /** UDP destination port for VXLAN (kernel devices; OVS uses 4789). */
  dstPort?: number;
}

function hash(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex');
}

/** OVS tunnel port: `fg`/`fv` + 12 hex of hash(network, peer) = 14 bytes; a join adds exactly one new name per host. */
export function ovsTunnelPortName(network: string, peer: string, encap: MeshEncap): IfName {
  return parseIfName(`f${encap === 'gre' ? 'g' : 'v'}${hash('ovs', network, peer).slice(0, 12)}`);
}

/**
 * Kernel device of a Linux-bridge network. VXLAN: one device per network, `vx-` + 11 hex of
 * hash(network), with one flood entry per peer. gretap is point to point: one device per peer,
 * `gt` + 12 hex of hash(network, peer), made an `isolated` bridge port (the kernel's `protected`).
 */
export function bridgeTunnelDeviceName(network: string, encap: MeshEncap, peer: string): IfName {
  return parseIfName(
    encap === 'vxlan' ? `vx-${hash('dev', network).slice(0, 11)}` : `gt${hash('gretap', network, peer).slice(0, 12)}`,
  );
}

export function tunnelId(t: Pick<Tunnel, 'kind' | 'port' | 'peerIp'>): string {
  return t.kind === 'ovs' ? `ovs/${t.port}` : `dev/${t.port}/${t.peerIp}`;
}

function sameTunnel(a: Tunnel, b: Tunnel): boolean {
  return (
    a.encap === b.encap &&
    a.key === b.key &&
    a.bridge === b.bridge &&
    a.peerIp === b.peerIp &&
    a.localIp === b.localIp &&
    (a.kind === 'ovs' || (a.dstPort ?? VXLAN_PORT) === (b.dstPort ?? VXLAN_PORT))
  );
}

/** One network's tunnels on one host: what the controller plans and the agent's ApplyMesh carries. */
export interface NetworkTunnels {
  network: string;
  kind: MeshKind;
  encap: MeshEncap;
  key: number;
  bridge: string;
  localIp: string;
  /** Container MTU on this network: the smallest member underlay MTU minus the overhead. */
  mtu: number;
  tunnels: Tunnel[];
}

export interface TunnelDiff {
  add: Tunnel[];
  remove: Tunnel[];
  /** Present and as wanted: never touched. */
  keep: Tunnel[];
}

/**
 * By tunnel id in code-unit order: deterministic, and with no ICU collation (localeCompare cost an agent's first
 * mesh pass about 7 ms of ICU start-up, and each pass a few microseconds per comparison).
 */
const byId = ([a]: [string, Tunnel], [b]: [string, Tunnel]) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * What to change so that `actual` becomes `desired`. A tunnel present with other settings
 * (peer moved, key changed) is removed and added again. Order is deterministic (by id).
 */
export function diffTunnels(desired: readonly Tunnel[], actual: readonly Tunnel[]): TunnelDiff {
  const want = new Map(desired.map((t) => [tunnelId(t), t]));
  const have = new Map(actual.map((t) => [tunnelId(t), t]));
  const add: Tunnel[] = [];
  const remove: Tunnel[] = [];
  const keep: Tunnel[] = [];
  for (const [id, t] of [...want].sort(byId)) {
    const cur = have.get(id);
    if (!cur) add.push(t);
    else if (sameTunnel(t, cur)) keep.push(cur);
    else {
      remove.push(cur);
      add.push(t);
    }
  }
  for (const [id, t] of [...have].sort(byId)) if (!want.has(id)) remove.push(t);
  return { add, remove, keep };
}

/** Validation shared by the controller's plan and the agent's edge: names, keys, addresses. */
export function checkTunnel(t: Tunnel): Tunnel {
  parseIfName(t.port, 'tunnel port');
  parseIfName(t.bridge, 'bridge');
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(t.network))
    throw invalid(`network name '${t.network}' is not 1-63 of A-Z a-z 0-9 . _ -`);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(t.peer))
    throw invalid(`peer host name '${t.peer}' is not 1-63 of A-Z a-z 0-9 . _ -`);
  if (!Number.isInteger(t.key) || t.key < 1 || t.key > MAX_KEY)
    throw invalid(`tunnel key ${t.key} of network ${t.network} is not 1..${MAX_KEY}`);
  for (const [what, ip] of [
    ['peer address', t.peerIp],
    ['local address', t.localIp],
  ] as const) {
    if (!isIPv4Text(ip))
      throw invalid(
        `${what} '${ip}' of network ${t.network} is not an IPv4 address`,
        "the mesh runs over the hosts' IPv4 underlay",
      );
  }
  if (t.dstPort !== undefined && (!Number.isInteger(t.dstPort) || t.dstPort < 1 || t.dstPort > 65535))
    throw invalid(`VXLAN port ${t.dstPort} is not 1..65535`);
  if (t.encap !== 'gre' && t.encap !== 'vxlan') throw invalid(`encapsulation '${String(t.encap)}' is not gre or vxlan`);
  if (t.kind !== 'ovs' && t.kind !== 'bridge') throw invalid(`network kind '${String(t.kind)}' is not ovs or bridge`);
  return t;
}
