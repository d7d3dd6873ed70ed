// User-space Open vSwitch (datapath netdev) sends a tunnel packet only to a peer whose underlay MAC
// is in its own tunnel neighbour cache (`ovs-appctl tnl/neigh/show`); on a miss it drops the packet
// and sends an ARP request. The cache is filled by snooping the ARP that crosses the host's underlay
// bridge while the datapath has tunnel ports. A lost BFD packet costs a second: BFD sends one a second
// while a session is not up (RFC 5880 6.8.3), once per step of its three-way handshake.
// A join is ordered for this: the controller pushes the joining host first and its members once it has
// answered (controller/service/mesh-service.ts). The joining host makes its bridge and ports with BFD on
// in one transaction and then has its own kernel ARP each on-link peer at once (an unknown address is
// resolved, a known one probed; static entries, permanent or noarp, are left alone), without waiting for
// the answers (nor its reply for the kernel's acknowledgements): its own first BFD packets have no member
// port to reach yet, and by the time the members' sessions start, a few hundred ms later, the exchanges
// have crossed both sides' OVS. Measured on the 50-host lab (bench/etcd-fleet-scale.ts --timeline): with
// the requests, the newcomer's sessions heard the first member's packets 0-0.2 s after its port appeared
// (3 runs); without them, 1.0-1.2 s after (2 runs: the next periodic packet). Waiting for the answers
// first (as before) held the members back 0.1-0.6 s more.
// The kernel is asked through a NeighIo: `ip` execs through the Runner, or in-process route netlink
// where the agent has it (agent/linux/neigh-*.ts).
import type { Logger } from 'pino';
import type { Runner } from '../../common/runner.js';
import { contains, networkOf, parseIfAddr, tryParseAddr } from '../../common/ip.js';
import type { Tunnel } from '../../common/mesh.js';
import { execNeighIo, type NeighAsk, type NeighEntry, type NeighIo } from '../linux/neigh-io.js';
import type { OvsTunnels } from './ovs-tunnels.js';

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

/**
 * Has the kernel send one ARP request to each on-link peer now, without waiting for the answers (see the
 * head of this file). Returns the peers asked about. Never throws: a peer not asked costs its tunnel at
 * most one BFD interval.
 */
export async function askPeers(io: NeighIo, u: Underlay, log?: Logger): Promise<string[]> {
  try {
    const asks = resolveAsks(u.onLink, await io.neighbours(u.dev));
    if (asks.length) await io.resolve(u.dev, asks);
    return asks.map((a) => a.peer);
  } catch (err) {
    log?.debug({ dev: u.dev, err: String(err) }, 'tunnel peers not asked for');
    return [];
  }
}

/**
 * Adds a network's missing OVS tunnels in one transaction, BFD on (and the bridge when the pass makes
 * it). When the pass makes a user-space (netdev) bridge, this host's underlay device is looked up
 * meanwhile (it does not depend on the ports), and once the ports exist (OVS snoops ARP only while the
 * datapath has tunnel ports) the on-link peers are asked for (askPeers) in the background: the pass and
 * its reply do not wait for the kernel's acknowledgements either. `asked` settles when that is done (it
 * never rejects). Meanwhile the host announces its own underlay address (announceUnderlay), so members learn
 * its MAC without asking. A member adding ports to a bridge it has (one per newcomer) asks nothing.
 */
export async function addOvsTunnels(
  ovs: OvsTunnels,
  ts: Tunnel[],
  o: {
    bridge: string;
    made: boolean;
    datapathType?: string | undefined;
    log?: Logger | undefined;
    /** Runs `ip` (when no `neigh` is given) and the underlay announcement (announceUnderlay). */
    runner: Runner;
    /** Opens the host's NeighIo (closed here); absent: `ip` execs through `runner`. */
    neigh?: (() => NeighIo) | undefined;
  },
): Promise<{ asked: Promise<string[]> }> {
  const dp = o.datapathType ? { datapathType: o.datapathType } : {};
  const make = o.made ? { bridge: o.bridge, network: ts[0]?.network ?? '', ...dp } : undefined;
  const none = { asked: Promise.resolve([]) };
  if (make?.datapathType !== 'netdev' || !ts[0]) return ovs.add(ts, make).then(() => none);
  const io = o.neigh?.() ?? execNeighIo(o.runner);
  const peers = ts.map((t) => t.peerIp);
  let u: Underlay | undefined;
  try {
    [u] = await Promise.all([findUnderlay(io, ts[0].localIp, peers), ovs.add(ts, make)]);
  } catch (err) {
    io.close();
    throw err;
  }
  if (!u) {
    io.close();
    return none;
  }
  announceUnderlay(o.runner, o.log, u.dev, ts[0].localIp);
  return { asked: askPeers(io, u, o.log).finally(() => io.close()) };
}

/**
 * Gratuitous ARPs for this host's underlay address (`arping -U`, three a second apart), in the background:
 * every member whose datapath has tunnel ports learns this host's MAC from them, so its first BFD packet
 * to this host is sent, not dropped for a neighbour-cache miss. Never throws; without arping, members learn
 * this host by asking, as before.
 */
export function announceUnderlay(runner: Runner, log: Logger | undefined, dev: string, ip: string): void {
  runner
    .run('arping', ['-q', '-U', '-c', '3', '-i', '1', '-I', dev, ip], { allowFail: true, timeoutMs: 10_000 })
    .then((r) => {
      if (r.code !== 0) log?.debug({ dev, ip, code: r.code, stderr: r.stderr }, 'underlay announcement failed');
    })
    .catch((err: unknown) => log?.info({ dev, ip, err: String(err) }, 'underlay not announced (arping)'));
}
