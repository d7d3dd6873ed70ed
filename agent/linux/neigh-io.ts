// What the mesh asks of a host's kernel about its IPv4 neighbours (agent/mesh/tunnel-neigh.ts decides
// what to ask): its addresses, a device's neighbour entries, and "send one ARP request to each of these
// now". Two ways to ask, chosen once by the agent (agent/main.ts, with its ip path): `ip` execs through
// the Runner (here; the self-contained agent and --ip-path exec), or in-process route netlink
// (neigh-netlink.ts). Both answer in the shapes of `ip -json`, so the deciding is written once.
import type { Runner } from '../../common/runner.js';

/** One IPv4 address of this namespace (`ip -json -4 addr show`). */
export interface Ip4Addr {
  ifname: string;
  local: string;
  prefixlen: number;
}

/** A neighbour entry as `ip -json neigh show` gives it: its MAC, and its states (REACHABLE, STALE, …). */
export interface NeighEntry {
  lladdr?: string;
  state?: string[];
}

/** A peer to have the kernel ARP for: `known` (it has a MAC) is probed, any other resolved afresh. */
export interface NeighAsk {
  peer: string;
  known: boolean;
}

export interface NeighIo {
  /** This namespace's IPv4 addresses ([] when they cannot be read). */
  addresses(): Promise<Ip4Addr[]>;
  /** The neighbour entries of device `dev`, by address (empty when they cannot be read). */
  neighbours(dev: string): Promise<Map<string, NeighEntry>>;
  /** Has the kernel send one ARP request to each now; an entry it refuses does not stop the others. */
  resolve(dev: string, asks: NeighAsk[]): Promise<void>;
  /** Gives back what it holds (netlink sockets). */
  close(): void;
}

/**
 * The `ip -batch` lines of asks: `neigh replace … use` resolves an address the kernel does not know,
 * `neigh change … nud probe` probes one it knows.
 */
export function neighLines(dev: string, asks: NeighAsk[]): string[] {
  return asks.map((a) =>
    a.known ? `neigh change ${a.peer} dev ${dev} nud probe` : `neigh replace ${a.peer} dev ${dev} use`,
  );
}

async function ipJson<T>(runner: Runner, args: string[]): Promise<T[]> {
  const r = await runner.run('ip', ['-json', ...args], { allowFail: true });
  try {
    return r.code === 0 ? (JSON.parse(r.stdout || '[]') as T[]) : [];
  } catch {
    return [];
  }
}

/** The neighbour work as `ip` execs through the Runner (each call one process). */
export function execNeighIo(runner: Runner): NeighIo {
  return {
    async addresses() {
      type Link = { ifname?: string; addr_info?: { local?: string; prefixlen?: number }[] };
      return (await ipJson<Link>(runner, ['-4', 'addr', 'show'])).flatMap((l) =>
        (l.addr_info ?? []).flatMap((a) =>
          l.ifname && a.local && a.prefixlen !== undefined
            ? [{ ifname: l.ifname, local: a.local, prefixlen: a.prefixlen }]
            : [],
        ),
      );
    },
    async neighbours(dev) {
      const rows = await ipJson<NeighEntry & { dst?: string }>(runner, ['neigh', 'show', 'dev', dev]);
      return new Map(rows.filter((n) => n.dst).map((n) => [n.dst!, n]));
    },
    async resolve(dev, asks) {
      // -force: a line the kernel refuses (an entry gone in between) does not stop the others.
      const input = `${neighLines(dev, asks).join('\n')}\n`;
      await runner.run('ip', ['-force', '-batch', '-'], { input, allowFail: true });
    },
    close() {},
  };
}
