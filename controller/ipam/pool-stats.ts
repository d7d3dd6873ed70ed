// How full each network's address pool is (for the controller's metrics): per network and family,
// the addresses allocation may hand out, how many attachments hold, and how many are left.
import { contains, tryParseAddr } from '../../common/ip.js';
import type { Tx } from '../store/store.js';
import type { AttachmentRecord } from '../store/types.js';
import { rangeFor, subnetsOf } from './allocate.js';

export interface PoolStats {
  network: string;
  family: 4 | 6;
  /** Addresses in the allocation range, less the gateways in it. */
  size: number;
  /** Addresses of the subnet held by an attachment (static ones outside the range included). */
  used: number;
  /** Addresses of the range nobody holds. */
  free: number;
}

export function poolStats(tx: Tx): PoolStats[] {
  const byNet = new Map<string, AttachmentRecord[]>();
  for (const a of tx.listAttachments()) if (a.net) byNet.set(a.net, [...(byNet.get(a.net) ?? []), a]);
  const out: PoolStats[] = [];
  for (const n of tx.listNetworks()) {
    const held = (byNet.get(n.name) ?? []).flatMap((a) =>
      a.addresses
        .map((x) => tryParseAddr(x.cidr.split('/')[0]!))
        .filter((x) => x !== undefined && tx.addressHolder(n.name, x.text) === a.id),
    );
    for (const subnet of subnetsOf(n)) {
      const { first, last } = rangeFor(n, subnet);
      const inRange = (v: bigint) => v >= first && v <= last;
      const gateways = n.gateways
        .map((g) => tryParseAddr(g))
        .filter((g) => g?.family === subnet.addr.family && inRange(g.value)).length;
      const size = last < first ? 0 : Number(last - first + 1n) - gateways;
      const mine = new Set(
        held.filter((x) => x!.family === subnet.addr.family && contains(subnet, x!)).map((x) => x!.text),
      );
      const usedInRange = [...mine].filter((t) => inRange(tryParseAddr(t)!.value)).length;
      const free = Math.max(0, size - usedInRange);
      out.push({ network: n.name, family: subnet.addr.family, size, used: mine.size, free });
    }
  }
  return out;
}
