// IP addresses and CIDRs as values: parsed once at the boundary, never re-parsed.
import { isIPv4, isIPv6 } from 'node:net';
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
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return hex.slice(0, best).join(':') + '::' + hex.slice(best + bestLen).join(':');
}

export function makeAddr(family: Family, value: bigint): IpAddr {
  return { family, value, text: formatAddr(family, value) };
}

export function tryParseAddr(s: string): IpAddr | undefined {
  if (isIPv4(s)) return makeAddr(4, v4ToBig(s));
  if (isIPv6(s) && !s.includes('%')) return makeAddr(6, v6ToBig(s));
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
