// Cluster-wide IPAM over the store's Tx: reserve a given address, or hand out the next free one.
// Addresses belong to an attachment id: asking again for the same id gets the same address.
import { conflict, failed, invalid, notFound } from '../../common/errors.js';
import {
  contains,
  makeAddr,
  parseNetwork,
  tryParseAddr,
  type Cidr,
  type Family,
  type IpAddr,
} from '../../common/ip.js';
import type { Tx } from '../store/store.js';
import type { NetworkRecord } from '../store/types.js';
import { allocateFromBlocks } from './blocks.js';
import { isReservedInNetwork, usableBounds } from '../../common/ip.js';

/** How far one allocation searches before it gives up (bounded work inside a transaction). */
export const MAX_PROBES = 1 << 20;

export function subnetsOf(n: NetworkRecord): Cidr[] {
  return n.subnets.map((s) => parseNetwork(s));
}

/** The network holding an address; refused when none or more than one does. */
export function networkForAddress(tx: Tx, a: IpAddr): NetworkRecord {
  const hits = tx.listNetworks().filter((n) => subnetsOf(n).some((s) => contains(s, a)));
  if (hits.length === 0)
    throw notFound(
      `no network holds ${a.text}`,
      'create one with: fleetnet net create NAME --subnet CIDR, or name it with --net',
    );
  if (hits.length > 1)
    throw invalid(
      `${a.text} is inside several networks (${hits.map((n) => n.name).join(', ')})`,
      'say which with --net NAME',
    );
  return hits[0]!;
}

export function describeHolder(tx: Tx, holderId: string): string {
  const h = tx.getAttachment(holderId);
  if (!h) return `attachment ${holderId}`;
  return `${h.container?.name || h.target.value} (${h.ifname}) on host ${h.host}`;
}

/** Reserves `cidr` in network n for owner; the prefix must be the subnet's. */
export function reserveStatic(tx: Tx, n: NetworkRecord, cidr: Cidr, owner: string): void {
  const subnet = subnetsOf(n).find((s) => contains(s, cidr.addr));
  if (!subnet) throw invalid(`${cidr.addr.text} is not inside network ${n.name} (${n.subnets.join(', ')})`);
  if (subnet.prefix !== cidr.prefix)
    throw invalid(
      `${cidr.text} has prefix /${cidr.prefix} but network ${n.name} is ${subnet.text}`,
      `write ${cidr.addr.text}/${subnet.prefix}`,
    );
  const why = isReservedInNetwork(subnet, cidr.addr);
  if (why) throw invalid(`${cidr.addr.text} is ${why} of ${subnet.text} and is never handed out`);
  if (n.gateways.includes(cidr.addr.text))
    throw invalid(`${cidr.addr.text} is the gateway of network ${n.name} and is never handed out`);
  const holder = tx.addressHolder(n.name, cidr.addr.text);
  if (holder === owner) return;
  if (holder)
    throw conflict(
      `${cidr.addr.text} in network ${n.name} is taken by ${describeHolder(tx, holder)}`,
      'choose another address, or omit it and give --net to have one allocated',
    );
  tx.reserveAddress(n.name, cidr.addr.text, owner);
}

/** The addresses of `subnet` that allocation hands out: usable ones, within --ipam-range when given. */
export function rangeFor(n: NetworkRecord, subnet: Cidr): { first: bigint; last: bigint } {
  const b = usableBounds(subnet);
  const r = n.ipamRanges.find((x) => tryParseAddr(x.start)?.family === subnet.addr.family);
  if (!r) return b;
  const s = tryParseAddr(r.start)!.value;
  const e = tryParseAddr(r.end)!.value;
  return { first: s > b.first ? s : b.first, last: e < b.last ? e : b.last };
}

/**
 * Hands out the next free address of one family: on a store several controllers share, from this
 * controller's address blocks (blocks.ts); else, or when no block has room, starting after the
 * network's cursor (as host-local does), so a burst of allocations costs one probe each. Mutates
 * n.cursors; the caller writes n back in the same transaction.
 */
export function allocateNext(
  tx: Tx,
  n: NetworkRecord,
  family: Family,
  owner: string,
  subnets: Cidr[] = subnetsOf(n),
): Cidr {
  const subnet = subnets.find((s) => s.addr.family === family);
  if (!subnet) throw invalid(`network ${n.name} has no IPv${family} subnet`);
  const { first, last } = rangeFor(n, subnet);
  if (last < first) throw failed(`network ${n.name} has no usable IPv${family} address`);
  const size = last - first + 1n;
  const cidrOf = (a: IpAddr): Cidr => ({ addr: a, prefix: subnet.prefix, text: `${a.text}/${subnet.prefix}` });
  const budget = { left: MAX_PROBES };
  const blocks = tx.blocks;
  if (blocks) {
    const a = allocateFromBlocks(tx, blocks, n, family, owner, { first, last }, budget);
    if (a) return cidrOf(a);
  }
  // No blocks (one controller), or no unclaimed block with a free address: every address of the range.
  const taken = blocks
    ? (a: IpAddr) => !blocks.isFree(n.name, a.text)
    : (a: IpAddr) => tx.addressHolder(n.name, a.text) !== undefined;
  const cur = n.cursors[String(family)] ? tryParseAddr(n.cursors[String(family)]!)?.value : undefined;
  let off = cur !== undefined && cur >= first && cur <= last ? cur - first + 1n : 0n;
  const probes = size < BigInt(budget.left) ? size : BigInt(budget.left);
  for (let i = 0n; i < probes; i++, off++) {
    if (off >= size) off = 0n;
    const a = makeAddr(family, first + off);
    if (n.gateways.includes(a.text)) continue;
    if (taken(a)) continue;
    tx.reserveAddress(n.name, a.text, owner);
    n.cursors[String(family)] = a.text;
    return cidrOf(a);
  }
  throw conflict(
    `network ${n.name} has no free IPv${family} address left`,
    n.ipamRanges.length
      ? 'widen --ipam-range, or detach unused attachments'
      : 'detach unused attachments, or use a larger subnet',
  );
}
