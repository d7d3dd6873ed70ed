// IP addresses and CIDRs as values: parsed once at the boundary, never re-parsed.
import { invalid } from './errors.js';

export type Family = 4 | 6;

export interface IpAddr {
  readonly family: Family;
  readonly value: bigint;
  /** Canonical text (IPv6 compressed, lower case). */
  readonly text: string;
}

export interface Cidr {
  readonly addr: IpAddr;
  readonly prefix: number;
  /** `addr/prefix` in canonical form. */
  readonly text: string;
}

const bits = (f: Family) => (f === 4 ? 32 : 128);

function v4ToBig(s: string): bigint {
  return s.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
}

function v6ToBig(s: string): bigint {
  let str = s;
  const v4tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(str);
  if (v4tail) {
    const v = v4ToBig(v4tail[1]!);
    str = str.slice(0, -v4tail[1]!.length) + ((v >> 16n) & 0xffffn).toString(16) + ':' + (v & 0xffffn).toString(16);
  }
  const [head, tail] = str.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const fill = tail === undefined ? [] : new Array(8 - h.length - t.length).fill('0');
  return [...h, ...fill, ...t].reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

export function formatAddr(family: Family, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => Number((value >> s) & 0xffn)).join('.');
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  // RFC 5952: compress the longest run (length >= 2) of zero groups, the first one on ties.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return hex.slice(0, best).join(':') + '::' + hex.slice(best + bestLen).join(':');
}

export function makeAddr(family: Family, value: bigint): IpAddr {
  return { family, value, text: formatAddr(family, value) };
}

// The syntax checks are written out rather than node:net's isIPv4/isIPv6: those are one large
// regular expression each, and compiling node's IPv6 one costs a new CLI process about 5 ms the
// first time any word is tried as an address. They accept exactly what node:net accepts (without
// a %zone, which fleetnet refuses); test/unit/ip-syntax.test.ts compares the two on many strings.

/** Dotted-quad IPv4: four decimal parts 0-255, no leading zeros (as node:net's isIPv4). */
export function isIPv4Text(s: string): boolean {
  if (s.length < 7 || s.length > 15) return false;
  const parts = s.split('.');
  if (parts.length !== 4) return false;
  for (const p of parts) {
    if (p.length === 0 || p.length > 3 || (p.length > 1 && p.charCodeAt(0) === 48)) return false;
    for (let i = 0; i < p.length; i++) {
      const c = p.charCodeAt(i);
      if (c < 48 || c > 57) return false;
    }
    if (Number(p) > 255) return false;
  }
  return true;
}

function isHexGroup(g: string): boolean {
  if (g.length === 0 || g.length > 4) return false;
  for (let i = 0; i < g.length; i++) {
    const c = g.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/** IPv6 text: eight groups, or fewer with one `::`, the last two optionally as dotted-quad IPv4. */
export function isIPv6Text(s: string): boolean {
  if (s.length < 2 || s.length > 45) return false;
  const dbl = s.indexOf('::');
  if (dbl >= 0 && s.indexOf('::', dbl + 1) >= 0) return false;
  const split = (x: string) => (x === '' ? [] : x.split(':'));
  const head = split(dbl >= 0 ? s.slice(0, dbl) : s);
  const tail = dbl >= 0 ? split(s.slice(dbl + 2)) : [];
  const all = [...head, ...tail];
  let groups = all.length;
  const end = dbl >= 0 ? tail : head; // only the last group of the text may be IPv4
  const last = end[end.length - 1];
  if (last !== undefined && last.includes('.')) {
    if (!isIPv4Text(last)) return false;
    all.pop();
    groups += 1;
  }
  if (!all.every(isHexGroup)) return false;
  return dbl >= 0 ? groups <= 7 : groups === 8;
}

export function tryParseAddr(s: string): IpAddr | undefined {
  if (isIPv4Text(s)) return makeAddr(4, v4ToBig(s));
  if (isIPv6Text(s)) return makeAddr(6, v6ToBig(s));
  return undefined;
}

export function parseAddr(s: string, what = 'address'): IpAddr {
  const a = tryParseAddr(s);
  if (!a) throw invalid(`${what} '${s}' is not an IPv4 or IPv6 address`);
  return a;
}

function makeCidr(addr: IpAddr, prefix: number): Cidr {
  return { addr, prefix, text: `${addr.text}/${prefix}` };
}

/** An interface address with its prefix length: `10.1.1.5/24`, `fd00::5/64`. Host bits are expected. */
export function parseIfAddr(s: string): Cidr {
  const slash = s.indexOf('/');
  if (slash < 0) {
    const a = tryParseAddr(s);
    if (a) {
      const guess = a.family === 4 ? 24 : 64;
      throw invalid(`address '${s}' has no prefix length`, `did you mean ${s}/${guess}?`);
    }
    throw invalid(`'${s}' is not an address with a prefix length (like 10.1.1.5/24 or fd00::5/64)`);
  }
  const addr = parseAddr(s.slice(0, slash));
  const p = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(p) || Number(p) > bits(addr.family)) {
    throw invalid(`prefix length '/${p}' in '${s}' is out of range (0-${bits(addr.family)})`);
  }
  const prefix = Number(p);
  if (prefix === 0) throw invalid(`'${s}' has prefix length 0`, `use 0/0 to attach without an address`);
  return makeCidr(addr, prefix);
}

export function hostMask(family: Family, prefix: number): bigint {
  return (1n << BigInt(bits(family) - prefix)) - 1n;
}

/** A network: `10.1.1.0/24`. Host bits must be zero. */
export function parseNetwork(s: string): Cidr {
  const slash = s.indexOf('/');
  if (slash < 0) throw invalid(`network '${s}' has no prefix length`, `write it like 10.1.1.0/24`);
  const addr = parseAddr(s.slice(0, slash), 'network');
  const p = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(p) || Number(p) > bits(addr.family)) {
    throw invalid(`prefix length '/${p}' in '${s}' is out of range (0-${bits(addr.family)})`);
  }
  const prefix = Number(p);
  const hm = hostMask(addr.family, prefix);
  if ((addr.value & hm) !== 0n) {
    const net = makeAddr(addr.family, addr.value & ~hm);
    throw invalid(`network '${s}' has host bits set`, `did you mean ${net.text}/${prefix}?`);
  }
  return makeCidr(addr, prefix);
}

export function networkOf(c: Cidr): Cidr {
  return makeCidr(makeAddr(c.addr.family, c.addr.value & ~hostMask(c.addr.family, c.prefix)), c.prefix);
}

export function contains(net: Cidr, a: IpAddr): boolean {
  if (net.addr.family !== a.family) return false;
  const hm = hostMask(a.family, net.prefix);
  return (a.value & ~hm) === (net.addr.value & ~hm);
}

/** The first and last address a network can give to an interface (network and broadcast excluded). */
export function usableBounds(net: Cidr): { first: bigint; last: bigint } {
  const size = hostMask(net.addr.family, net.prefix);
  const base = net.addr.value & ~size;
  if (net.addr.family === 4 && net.prefix >= 31) return { first: base, last: base + size };
  // IPv4: network and broadcast; IPv6: the subnet-router anycast address (the network address).
  return { first: base + 1n, last: net.addr.family === 4 ? base + size - 1n : base + size };
}

/** Why `a` can never be an interface's address in `net` (network, broadcast, outside), or undefined. */
export function isReservedInNetwork(net: Cidr, a: IpAddr): string | undefined {
  const { first, last } = usableBounds(net);
  const base = net.addr.value & ~hostMask(net.addr.family, net.prefix);
  if (a.value === base && first !== base) return 'the network address';
  if (net.addr.family === 4 && a.value === last + 1n && net.prefix < 31) return 'the broadcast address';
  if (a.value < first || a.value > last) return 'outside the usable range';
  return undefined;
}

/** Multicast ranges (224.0.0.0/4, ff00::/8): never a subnet or an interface address. */
export function isMulticast(a: IpAddr): boolean {
  return a.family === 4 ? a.value >> 28n === 0xen : a.value >> 120n === 0xffn;
}

/** Loopback ranges (127.0.0.0/8, ::1/128): never routed off a host, so no use on a container's link. */
export function isLoopback(a: IpAddr): boolean {
  return a.family === 4 ? a.value >> 24n === 127n : a.value === 1n;
}
