// User-space Open vSwitch (datapath netdev) sends a tunnel packet only to a peer whose underlay MAC
// is in its own tunnel neighbour cache (`ovs-appctl tnl/neigh/show`); on a miss it drops the packet
// and sends an ARP request. The cache is filled by snooping the ARP replies that reach the host's
// underlay bridge while the datapath has tunnel ports. A host's new tunnels would lose their first BFD
// packets that way, and BFD, which sends one packet a second while a session is not up (RFC 5880
// 6.8.3), tries again only a second later, once per step of its three-way handshake.
// So a host that makes a tunnel bridge makes its ports first with BFD off, has its own kernel resolve
// the on-link peers' underlay addresses (a fresh ARP exchange each, inside this host's namespace: an
// unknown address is resolved, a known one probed), which OVS snoops, and only then turns BFD on.
// Static entries (permanent, noarp) are left alone. Everything is `ip` argv through the Runner.
import type { Logger } from 'pino';
import { contains, networkOf, parseIfAddr, tryParseAddr } from '../../common/ip.js';
import type { Tunnel } from '../../common/mesh.js';
import type { Runner } from '../../common/runner.js';
import type { OvsTunnels } from './ovs-tunnels.js';

/** How long the peers' replies are waited for; a peer that does not answer is BFD's to find down. */
export const RESOLVE_WAIT_MS = 500;
/** The first look again after 10 ms, each next one twice as late: a host making 49 tunnels at once on a
 * busy machine reads its neighbours ~6 times, not 50 (each read is an `ip` process). */
const FIRST_POLL_MS = 10;

interface IpAddrJson {
  ifname?: string;
  addr_info?: { local?: string; prefixlen?: number; family?: string }[];
}
interface NeighJson {
  dst?: string;
  lladdr?: string;
  state?: string[];
}

/** The kernel device holding this host's underlay address, and the peers on its link (the rest go by a gateway). */
export interface Underlay {
  dev: string;
  onLink: string[];
}

/** `ip -json -4 addr show`: the device and subnet of localIp; the peers inside that subnet. */
export async function findUnderlay(runner: Runner, localIp: string, peers: string[]): Promise<Underlay | undefined> {
  const r = await runner.run('ip', ['-json', '-4', 'addr', 'show'], { allowFail: true });
  let links: IpAddrJson[];
  try {
    links = r.code === 0 ? (JSON.parse(r.stdout || '[]') as IpAddrJson[]) : [];
  } catch {
    return undefined;
  }
  for (const l of links) {
    const a = l.addr_info?.find((x) => x.local === localIp && x.prefixlen !== undefined);
    if (!l.ifname || !a) continue;
    const net = networkOf(parseIfAddr(`${localIp}/${a.prefixlen}`));
    const onLink = [...new Set(peers)].filter((p) => {
      const ip = tryParseAddr(p);
      return !!ip && p !== localIp && contains(net, ip);
    });
    return { dev: l.ifname, onLink };
  }
  return undefined;
}

async function neighbours(runner: Runner, dev: string): Promise<Map<string, NeighJson>> {
  const r = await runner.run('ip', ['-json', 'neigh', 'show', 'dev', dev], { allowFail: true });
  try {
    const rows = r.code === 0 ? (JSON.parse(r.stdout || '[]') as NeighJson[]) : [];
    return new Map(rows.filter((n) => n.dst).map((n) => [n.dst!, n]));
  } catch {
    return new Map();
  }
}

const isStatic = (n: NeighJson | undefined) => !!n?.state?.some((s) => s === 'PERMANENT' || s === 'NOARP');
const hasMac = (n: NeighJson | undefined) => !!n?.lladdr && !n.state?.some((s) => s === 'INCOMPLETE' || s === 'FAILED');

/**
 * The `ip -batch` lines that make the kernel send one ARP request to each peer now: `neigh replace
 * … use` resolves an address it does not know, `neigh change … nud probe` probes one it knows.
 */
export function resolveLines(dev: string, peers: string[], known: Map<string, NeighJson>): string[] {
  return peers
    .filter((p) => !isStatic(known.get(p)))
    .map((p) =>
      hasMac(known.get(p)) ? `neigh change ${p} dev ${dev} nud probe` : `neigh replace ${p} dev ${dev} use`,
    );
}

/**
 * Has the kernel resolve the on-link peers afresh and waits (up to waitMs) until each answered: the
 * replies went through this host's OVS, which keeps their MACs for its tunnels. Returns the peers that
 * did not answer in time. Never throws: a peer not warmed costs its tunnel one BFD interval, no more.
 */
export async function resolvePeers(
  runner: Runner,
  u: Underlay,
  o: { log?: Logger; waitMs?: number; now?: () => number } = {},
): Promise<string[]> {
  const now = o.now ?? Date.now;
  const known = await neighbours(runner, u.dev);
  const lines = resolveLines(u.dev, u.onLink, known);
  if (!lines.length) return [];
  const asked = u.onLink.filter((p) => !isStatic(known.get(p)));
  // -force: a line the kernel refuses (an entry gone in between) does not stop the others.
  await runner.run('ip', ['-force', '-batch', '-'], { input: `${lines.join('\n')}\n`, allowFail: true });
  const deadline = now() + (o.waitMs ?? RESOLVE_WAIT_MS);
  let left = asked;
  let pollMs = FIRST_POLL_MS;
  for (;;) {
    const seen = await neighbours(runner, u.dev);
    left = left.filter((p) => !seen.get(p)?.state?.includes('REACHABLE'));
    if (!left.length || now() >= deadline) break;
    await new Promise((r) => setTimeout(r, Math.min(pollMs, Math.max(1, deadline - now()))));
    pollMs *= 2;
  }
  if (left.length) o.log?.debug({ dev: u.dev, unresolved: left }, 'tunnel peers not resolved before BFD starts');
  return left;
}

/**
 * Adds a network's missing OVS tunnels in one transaction (and the bridge when the pass makes it).
 * When the pass makes a user-space (netdev) bridge and this host's underlay address is on a local
 * device, the ports come first with BFD off, the peers are resolved (resolvePeers: OVS snoops the
 * replies only once it has tunnel ports), then one more transaction turns BFD on, so that the first
 * BFD packets find the peers' MACs. Should that one fail, the ports go again and the next pass makes
 * them whole. A host adding ports to a bridge it has (one per newcomer) adds them in one step: its
 * first packets usually leave before the newcomer's BFD is on and would be lost anyway.
 */
export async function addOvsTunnels(
  ovs: OvsTunnels,
  runner: Runner,
  ts: Tunnel[],
  o: { bridge: string; made: boolean; datapathType?: string | undefined; log?: Logger },
): Promise<void> {
  const make = o.made ? { bridge: o.bridge, ...(o.datapathType ? { datapathType: o.datapathType } : {}) } : undefined;
  const peers = ts.map((t) => t.peerIp);
  const u = make?.datapathType === 'netdev' && ts[0] ? await findUnderlay(runner, ts[0].localIp, peers) : undefined;
  if (!u) return ovs.add(ts, make);
  await ovs.add(ts, make, false);
  await resolvePeers(runner, u, o.log ? { log: o.log } : {});
  try {
    await ovs.enableBfd(ts);
  } catch (err) {
    await ovs.remove(ts).catch(() => undefined);
    throw err;
  }
}
