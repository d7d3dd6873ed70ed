// The mesh's neighbour work (neigh-io.ts) in-process over route netlink: the requests `ip` would send
// (RTM_GETADDR, RTM_GETNEIGH dumps; RTM_NEWNEIGH as `ip neigh replace … use` and `ip neigh change …
// nud probe` build it), on a socket of this namespace, with no process started. The socket is opened
// on the calling thread and closed by close().
import { tryParseAddr } from '../../common/ip.js';
import type { NeighEntry, NeighIo } from './neigh-io.js';
import { addrBytes, macText, ntop, requestOptions } from './netlink-batch.js';
import type { Rtnl } from './rtnetlink.js';

const AF_INET = 2;

/** A NeighborState (parsed ndm_state bits) as `ip` names its states. */
function stateNames(s: Record<string, unknown> | undefined): string[] {
  return Object.keys(s ?? {})
    .filter((k) => k !== '__unknown' && s![k] === true)
    .map((k) => k.toUpperCase());
}

/**
 * Neighbour work over route netlink in the namespace at `netns` (the agent's own when undefined: the
 * agent lives in its host's namespace; tests give a test host's). Opens its socket now.
 */
export function netlinkNeighIo(rt: Rtnl, netns?: string): NeighIo {
  const nl = rt.nl;
  const s = rt.open(netns);
  const T = requestOptions(s);
  const index = new Map<string, number>();

  const ifindex = async (dev: string): Promise<number | undefined> => {
    const known = index.get(dev);
    if (known) return known;
    const i = await s.getLink({}, { ifname: dev }, T).then(
      (l) => l[0]?.data.index,
      () => undefined,
    );
    if (i) index.set(dev, i);
    return i;
  };

  return {
    async addresses() {
      try {
        const addrs = await s.getAddresses({ family: AF_INET }, {}, T);
        const links = await s.getLinks({}, {}, T);
        for (const l of links) if (l.data.index && l.attrs.ifname) index.set(l.attrs.ifname, l.data.index);
        const names = new Map([...index].map(([name, i]) => [i, name]));
        return addrs.flatMap((a) => {
          const ifname = names.get(a.data.index ?? 0);
          const local = a.attrs.local ?? a.attrs.address;
          return a.data.family === AF_INET && ifname && local && a.data.prefixlen !== undefined
            ? [{ ifname, local: ntop(AF_INET, local), prefixlen: a.data.prefixlen }]
            : [];
        });
      } catch {
        return [];
      }
    },
    async neighbours(dev) {
      const out = new Map<string, NeighEntry>();
      const i = await ifindex(dev);
      if (!i) return out;
      // NDA_IFINDEX: the kernel dumps this device's entries only (as `ip neigh show dev` asks).
      const rows = await s.getNeighbors({ family: AF_INET }, { ifindex: nl.putU32(i) }, T).catch(() => []);
      for (const n of rows) {
        if (n.data.family !== AF_INET || n.data.ifindex !== i || !n.attrs.dst) continue;
        const e: NeighEntry = { state: stateNames(n.data.state as Record<string, unknown>) };
        if (n.attrs.lladdr) e.lladdr = macText(n.attrs.lladdr);
        out.set(ntop(AF_INET, n.attrs.dst), e);
      }
      return out;
    },
    async resolve(dev, asks) {
      const i = await ifindex(dev);
      if (!i) return;
      const { CREATE, REPLACE } = nl.FlagsNew;
      // One request each, all sent at once; one the kernel refuses does not stop the others (`ip -force`).
      await Promise.allSettled(
        asks.map((a) => {
          const dst = tryParseAddr(a.peer);
          if (dst?.family !== 4) return Promise.resolve();
          const attrs = { dst: addrBytes(dst) };
          return a.known
            ? s.newNeighbor({ family: AF_INET, ifindex: i, state: { probe: true } }, attrs, { flags: REPLACE, ...T })
            : s.newNeighbor(
                // `ip neigh replace … use`: state PERMANENT is iproute2's default; NTF_USE makes it a resolve.
                { family: AF_INET, ifindex: i, state: { permanent: true }, flags: { use: true } },
                attrs,
                { flags: CREATE | REPLACE, ...T },
              );
        }),
      );
    },
    close() {
      s.socket.close();
    },
  };
}
