// User-space Open vSwitch (datapath netdev) sends a tunnel packet only to a peer whose underlay MAC
// is in its own tunnel neighbour cache (`ovs-appctl tnl/neigh/show`); on a miss it drops the packet
// and sends an ARP request. The cache is filled by snooping the ARP replies that reach the host's
// underlay bridge while the datapath has tunnel ports. A host's new tunnels would lose their first BFD
// packets that way, and BFD, which sends one packet a second while a session is not up (RFC 5880
// 6.8.3), tries again only a second later, once per step of its three-way handshake.
// So a host that makes a tunnel bridge makes its ports first with BFD off, has its own kernel resolve
// the on-link peers' underlay addresses (a fresh ARP exchange each, inside this host's namespace: an
// unknown address is resolved, a known one probed), which OVS snoops, and only then turns BFD on.
// Static entries (permanent, noarp) are left alone. The kernel is asked through a NeighIo: `ip` execs
// through the Runner, or in-process route netlink where the agent has it (agent/linux/neigh-*.ts).
import type { Logger } from 'pino';
import { contains, networkOf, parseIfAddr, tryParseAddr } from '../../common/ip.js';
import type { Tunnel } from '../../common/mesh.js';
import { neighLines, type NeighAsk, type NeighEntry, type NeighIo } from '../linux/neigh-io.js';
import type { OvsTunnels } from './ovs-tunnels.js';

/** How long the peers' replies are waited for; a peer that does not answer is BFD's to find down. */
export const RESOLVE_WAIT_MS = 500;
/** The first look again after 10 ms, each next one twice as late: a host making 49 tunnels at once on a
 * busy machine reads its neighbours ~6 times, not 50 (over execs, each read is an `ip` process). Over
 * netlink a look comes sooner, as soon as the kernel records a change (NeighIo.settle). */
const FIRST_POLL_MS = 10;

/** The kernel device holding this host's underlay address, and the peers on its link (the rest go by a gateway). */
export interface Underlay {
  dev: string;
  onLink: string[];
}

/** The device and subnet of localIp among this host's IPv4 addresses; the peers inside that subnet. Never throws. */
export async function findUnderlay(io: NeighIo, localIp: string, peers: string[]): Promise<Underlay | undefined> {
  const a = (await io.addresses().catch(() => [])).find((x) => x.local === localIp);
  if (!a) return undefined;
  const net = networkOf(parseIfAddr(`${localIp}/${a.prefixlen}`));
  const onLink = [...new Set(peers)].filter((p) => {
    const ip = tryParseAddr(p);
    return !!ip && p !== localIp && contains(net, ip);
  });
  return { dev: a.ifname, onLink };
}

const isStatic = (n: NeighEntry | undefined) => !!n?.state?.some((s) => s === 'PERMANENT' || s === 'NOARP');
const hasMac = (n: NeighEntry | undefined) =>
  !!n?.lladdr && !n.state?.some((s) => s === 'INCOMPLETE' || s === 'FAILED');

/** What to ask of the kernel for each peer: a static entry is left alone, one with a MAC probed, others resolved. */
export function resolveAsks(peers: string[], known: Map<string, NeighEntry>): NeighAsk[] {
  return peers.filter((p) => !isStatic(known.get(p))).map((p) => ({ peer: p, known: hasMac(known.get(p)) }));
}

/** The `ip -batch` lines that make the kernel send one ARP request to each peer now (the exec path's text). */
export function resolveLines(dev: string, peers: string[], known: Map<string, NeighEntry>): string[] {
  return neighLines(dev, resolveAsks(peers, known));
}

/**
 * Has the kernel resolve the on-link peers afresh and waits (up to waitMs) until each answered: the
 * replies went through this host's OVS, which keeps their MACs for its tunnels. Returns the peers that
 * did not answer in time. Never throws: a peer not warmed costs its tunnel one BFD interval, no more.
 */
export async function resolvePeers(
  io: NeighIo,
  u: Underlay,
  o: { log?: Logger; waitMs?: number; now?: () => number } = {},
): Promise<string[]> {
  const now = o.now ?? Date.now;
  let left: string[] = [];
  try {
    const asks = resolveAsks(u.onLink, await io.neighbours(u.dev));
    left = asks.map((a) => a.peer);
    if (!left.length) return [];
    await io.resolve(u.dev, asks);
    const deadline = now() + (o.waitMs ?? RESOLVE_WAIT_MS);
    for (let pollMs = FIRST_POLL_MS; ; pollMs *= 2) {
      const seen = await io.neighbours(u.dev);
      left = left.filter((p) => !seen.get(p)?.state?.includes('REACHABLE'));
      if (!left.length || now() >= deadline) break;
      await io.settle(Math.min(pollMs, Math.max(1, deadline - now())));
    }
  } catch (err) {
    o.log?.debug({ dev: u.dev, err: String(err) }, 'tunnel peers not resolved');
  }
  if (left.length) o.log?.debug({ dev: u.dev, unresolved: left }, 'tunnel peers not resolved before BFD starts');
  return left;
}

/**
 * Adds a network's missing OVS tunnels in one transaction (and the bridge when the pass makes it).
 * When the pass makes a user-space (netdev) bridge, the ports come first with BFD off while this host's
 * underlay device is looked up (it does not depend on them); when the underlay address is on a local
 * device the peers are resolved (resolvePeers: OVS snoops the replies only once it has tunnel ports);
 * then one more transaction turns BFD on, so that the first BFD packets find the peers' MACs. Should
 * that one fail, the ports go again and the next pass makes them whole. A host adding ports to a bridge
 * it has (one per newcomer) adds them in one step: its first packets usually leave before the
 * newcomer's BFD is on and would be lost anyway. `neigh` opens the host's NeighIo (closed here).
 */
export async function addOvsTunnels(
  ovs: OvsTunnels,
  neigh: () => NeighIo,
  ts: Tunnel[],
  o: { bridge: string; made: boolean; datapathType?: string | undefined; log?: Logger },
): Promise<void> {
  const make = o.made ? { bridge: o.bridge, ...(o.datapathType ? { datapathType: o.datapathType } : {}) } : undefined;
  if (make?.datapathType !== 'netdev' || !ts[0]) return ovs.add(ts, make);
  const io = neigh();
  try {
    const peers = ts.map((t) => t.peerIp);
    const [u] = await Promise.all([findUnderlay(io, ts[0].localIp, peers), ovs.add(ts, make, false)]);
    if (u) await resolvePeers(io, u, o.log ? { log: o.log } : {});
  } finally {
    io.close();
  }
  try {
    await ovs.enableBfd(ts);
  } catch (err) {
    await ovs.remove(ts).catch(() => undefined);
    throw err;
  }
}
