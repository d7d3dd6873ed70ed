// Address blocks with an affinity (issue 13), as Calico's IPAM keeps them. On a store several
// controllers share (etcd), a controller hands out addresses from blocks of 64 that it claimed (a
// compare-and-swap on the block's key, which records the affinity), so the controllers no longer
// race for the same next free address of a network: each fills its own blocks, and when they are
// full claims an unclaimed block with a free address, from the network's cursor on (first among
// the blocks its rank among the controllers picks for it, so that they do not race for one block).
// A block is a hint, never the guard against duplicates: every address is still reserved by its
// own compared key. So a fleet written before blocks existed keeps its reservations, a static
// address may be asked anywhere, and when no unclaimed block with a free address is left, the
// caller searches the whole range (other controllers' blocks too): a pool is never reported
// exhausted while it has a free address.
import { makeAddr, tryParseAddr, type Family, type IpAddr } from '../../common/ip.js';
import type { BlockTx, Tx } from '../store/store.js';
import type { NetworkRecord } from '../store/types.js';

/** 64 addresses: a /26 of IPv4, a /122 of IPv6 (Calico's default block size). */
const BLOCK_BITS = 6n;
const BLOCK = 1n << BLOCK_BITS;

export interface AddressRange {
  first: bigint;
  last: bigint;
}

/** The start of the block holding `v` (blocks are aligned, so a block's name does not depend on the range). */
const blockStart = (v: bigint) => (v >> BLOCK_BITS) << BLOCK_BITS;

export const blockName = (family: Family, start: bigint): string =>
  `${makeAddr(family, start).text}/${(family === 4 ? 32 : 128) - Number(BLOCK_BITS)}`;

/** Probes left to one allocation (bounded work inside a transaction). */
interface Budget {
  left: number;
}

/**
 * An address of network n from this controller's blocks, or from a block it claims now, reserved
 * for owner; undefined when no unclaimed block has a free address left.
 */
export function allocateFromBlocks(
  tx: Tx,
  b: BlockTx,
  n: NetworkRecord,
  family: Family,
  owner: string,
  r: AddressRange,
  budget: Budget,
): IpAddr | undefined {
  const a = fromMine(b, n, family, r, budget) ?? claimNext(b, n, family, r, budget);
  if (!a) return undefined;
  tx.reserveAddress(n.name, a.text, owner);
  b.lastGiven.set(`${n.name}/${family}`, a.value);
  return a;
}

/**
 * A free address of block `start` (named `name`) inside the range, searched from `from` on and wrapping
 * inside the block. None: the block is remembered as full (BlockTx.knownFull).
 */
function freeInBlock(
  b: BlockTx,
  n: NetworkRecord,
  family: Family,
  start: bigint,
  name: string,
  r: AddressRange,
  budget: Budget,
  from = start,
): IpAddr | undefined {
  const lo = start > r.first ? start : r.first;
  const hi = start + BLOCK - 1n < r.last ? start + BLOCK - 1n : r.last;
  if (from < lo || from > hi) from = lo;
  for (let v = from, i = 0n; i <= hi - lo && budget.left > 0; i++, v = v === hi ? lo : v + 1n) {
    budget.left--;
    const a = makeAddr(family, v);
    if (!n.gateways.includes(a.text) && b.isFree(n.name, a.text)) return a;
  }
  if (budget.left > 0) b.markFull(n.name, name); // searched whole
  return undefined;
}

function fromMine(b: BlockTx, n: NetworkRecord, family: Family, r: AddressRange, budget: Budget): IpAddr | undefined {
  // The block of the last address handed out first, after that address: as host-local does, a
  // freed address is not handed out again at once.
  const last = b.lastGiven.get(`${n.name}/${family}`);
  const hinted = last === undefined ? undefined : blockStart(last);
  const hintedName = hinted === undefined ? undefined : blockName(family, hinted);
  if (hintedName && b.holder(n.name, hintedName) === b.self && !b.knownFull(n.name, hintedName)) {
    const a = freeInBlock(b, n, family, hinted!, hintedName, r, budget, last! + 1n);
    if (a) return a;
  }
  for (const name of b.mine(n.name)) {
    if (name === hintedName || b.knownFull(n.name, name)) continue;
    const start = tryParseAddr(name.slice(0, name.indexOf('/')));
    if (!start || start.family !== family) continue;
    if (start.value + BLOCK - 1n < r.first || start.value > r.last) continue;
    const a = freeInBlock(b, n, family, start.value, name, r, budget);
    if (a) return a;
  }
  return undefined;
}

/**
 * Claims an unclaimed block with a free address, searched from the block of the network's cursor on.
 * When other controllers hold blocks of this network too, this controller looks first at the blocks
 * whose number is its rank among their ids, modulo their count: controllers that fill their blocks at
 * the same pace then do not all race for the same next block (a lost claim costs another round trip
 * for every allocation of its group). Then at any unclaimed block.
 */
function claimNext(b: BlockTx, n: NetworkRecord, family: Family, r: AddressRange, budget: Budget): IpAddr | undefined {
  const firstBlock = blockStart(r.first);
  const lastBlock = blockStart(r.last);
  const cursor = n.cursors[String(family)] ? tryParseAddr(n.cursors[String(family)]!)?.value : undefined;
  const from = cursor !== undefined && cursor >= r.first && cursor <= r.last ? blockStart(cursor) : firstBlock;
  const count = ((lastBlock - firstBlock) >> BLOCK_BITS) + 1n;
  const holders = [...new Set([...b.holders(n.name), b.self])].sort();
  const share = BigInt(holders.length);
  const rank = BigInt(holders.indexOf(b.self));
  const passes = share > 1n ? [(s: bigint) => (s >> BLOCK_BITS) % share === rank, () => true] : [() => true];
  for (const inPass of passes) {
    let s = from;
    for (let i = 0n; i < count && budget.left > 0; i++, s = s === lastBlock ? firstBlock : s + BLOCK) {
      if (!inPass(s)) continue;
      budget.left--;
      const name = blockName(family, s);
      if (b.holder(n.name, name) !== undefined || b.knownFull(n.name, name)) continue;
      const a = freeInBlock(b, n, family, s, name, r, budget);
      if (!a) continue;
      b.claim(n.name, name);
      n.cursors[String(family)] = a.text;
      return a;
    }
  }
  return undefined;
}
