// ADDRESS words and proto address entries: a static interface address (with an optional
// gateway), 0/0 for none, or a DHCP client. The rules for one address and for the list live here.
import { invalid, type FleetnetError } from '../errors.js';
import {
  contains,
  isLoopback,
  isMulticast,
  isReservedInNetwork,
  networkOf,
  parseAddr,
  parseIfAddr,
  tryParseAddr,
  usableBounds,
  makeAddr,
  type Cidr,
  type IpAddr,
} from '../ip.js';

export type DhcpClient = 'dhcp' | 'dhclient' | 'udhcpc' | 'dhcpcd';
/** A gateway: an address inside the interface's subnet, of its family, not its own. */
export type Gateway = IpAddr;
export type AddressSpec =
  | { kind: 'static'; cidr: Cidr; gateway?: Gateway }
  | { kind: 'none' }
  | { kind: 'dhcp'; client: DhcpClient; options: string };
export type StaticAddress = Extract<AddressSpec, { kind: 'static' }>;

const DHCP_RE = /^(dhcp|dhclient|udhcpc|dhcpcd)(-f)?(?::(.*))?$/s;
const DHCP_CLIENTS: readonly string[] = ['dhcp', 'dhclient', 'udhcpc', 'dhcpcd'];
/** A DHCP word with a version or family (`dhcp6`, `dhclient4`, `udhcpc-v6`): no client fleetnet runs. */
const DHCP_LIKE_RE = /^(dhcp|dhclient|udhcpc|dhcpcd)[-_]?v?\d+(-f)?(?::.*)?$/s;
/** Words that are a target, a MAC string or a host interface by MAC, whatever follows the colon. */
const PREFIXED_RE = /^(U|mac|docker|pid|netns|lxc):/;

/**
 * How the attach grammar reads a word: an address entry (an address with its prefix length and optional
 * @gateway, a bare address, 0/0, a DHCP client), a word shaped like one that is not one — digits and dots
 * with a slash or in four parts (`10.1.1.300/24`), groups and colons with a slash or `::` (`fd00::zz/64`), a
 * DHCP word with a version (`dhcp6`) — or another word (host interface, container, MAC). No host interface,
 * container name or MAC has those shapes, so a malformed address is never taken for one of them.
 */
export function classifyWord(t: string): 'address' | 'malformed-address' | 'other' {
  if (t === '0/0' || DHCP_RE.test(t)) return 'address';
  const head = t.split('@')[0]!; // before a gateway
  if (tryParseAddr(head.split('/')[0]!) !== undefined) return 'address';
  if (PREFIXED_RE.test(t)) return 'other';
  const v4 = /^\d[\d.]*\/\S*$/.test(head) || /^\d+(\.\d+){3}$/.test(head);
  const v6 = /^[\w.]*:[\w.:]*:[\w.:]*(\/\S*)?$/.test(head) && (head.includes('/') || head.includes('::'));
  return v4 || v6 || DHCP_LIKE_RE.test(t) ? 'malformed-address' : 'other';
}

export function isAddressToken(t: string): boolean {
  return classifyWord(t) === 'address';
}

/** The refusal of a word shaped like an address that is not one, with the forms there are. */
export function notAnAddress(t: string): FleetnetError {
  const name = t.split(':')[0]!;
  return invalid(
    `'${t}' is not a valid address`,
    DHCP_LIKE_RE.test(t)
      ? `the DHCP clients are dhcp, dhclient, udhcpc and dhcpcd[:OPTIONS], IPv4 only (for IPv6 give a static ` +
          `address like fd00::5/64); a container named ${name} is written docker:${name} or netns:${name}`
      : 'write an address with its prefix length, like 10.1.1.5/24 or fd00::5/64, each with an optional ' +
          '@GATEWAY; 0/0 for none; or dhcp, dhclient, udhcpc, dhcpcd[:OPTIONS]',
  );
}

/** An interface address and its optional gateway, with every rule a static address has. */
export function parseStaticAddress(cidrText: string, gatewayText?: string): StaticAddress {
  const cidr = parseIfAddr(cidrText);
  const net = networkOf(cidr);
  if (isMulticast(cidr.addr))
    throw invalid(`${cidr.text} is a multicast address`, 'give the interface a unicast address');
  if (isLoopback(cidr.addr))
    throw invalid(
      `${cidr.text} is a loopback address, which only the container's lo may hold`,
      'give the interface an address of the network it is attached to, like 10.1.1.5/24',
    );
  if (cidr.addr.family === 4 && cidr.prefix < 31) {
    const why = isReservedInNetwork(net, cidr.addr);
    if (why === 'the network address' || why === 'the broadcast address') {
      const { first, last } = usableBounds(net);
      throw invalid(
        `${cidr.text}: ${cidr.addr.text} is ${why} of ${net.text}, which no interface may hold`,
        `use an address from ${makeAddr(4, first).text} to ${makeAddr(4, last).text}`,
      );
    }
  }
  if (gatewayText === undefined || gatewayText === '') return { kind: 'static', cidr };
  // pipework's `ADDR@N` is a gateway too; its VLAN is a word of its own after the addresses (`… 10.1.1.5/24 @10`).
  if (/^\d{1,4}$/.test(gatewayText))
    throw invalid(
      `gateway '${gatewayText}' is not an IPv4 or IPv6 address`,
      `for VLAN ${gatewayText}, write it after the addresses as a word of its own: ${cidrText} @${gatewayText}`,
    );
  const gateway = parseAddr(gatewayText, 'gateway');
  if (gateway.family !== cidr.addr.family) {
    throw invalid(`gateway ${gateway.text} is IPv${gateway.family} but address ${cidr.text} is IPv${cidr.addr.family}`);
  }
  if (gateway.value === cidr.addr.value) throw invalid(`gateway ${gateway.text} is the interface's own address`);
  // An IPv6 link-local gateway (fe80::/10) is on every link: the usual router of an IPv6 LAN.
  const linkLocal = gateway.family === 6 && gateway.value >> 118n === 0x3fan;
  if (!linkLocal && !contains(net, gateway)) {
    throw invalid(
      `gateway ${gateway.text} is outside ${net.text}, the subnet of ${cidr.text}, so the container could not reach it`,
      `give a gateway inside ${net.text}, or widen the prefix of the address (e.g. ` +
        `${cidr.addr.text}/${cidr.addr.family === 4 ? 16 : 48})`,
    );
  }
  return { kind: 'static', cidr, gateway };
}

export function parseDhcp(client: string, options: string): AddressSpec {
  if (!DHCP_CLIENTS.includes(client))
    throw invalid(`unknown DHCP client '${client}'`, `use one of: ${DHCP_CLIENTS.join(', ')}`);
  return { kind: 'dhcp', client: client as DhcpClient, options };
}

export function parseAddressToken(t: string): AddressSpec {
  if (t === '0/0') return { kind: 'none' };
  if (classifyWord(t) === 'malformed-address') throw notAnAddress(t);
  const d = DHCP_RE.exec(t);
  if (d) return { kind: 'dhcp', client: d[1] as DhcpClient, options: d[3] ?? '' };
  const at = t.indexOf('@');
  return at < 0 ? parseStaticAddress(t) : parseStaticAddress(t.slice(0, at), t.slice(at + 1));
}

/** The rules of the list: 0/0 stands alone, at most one DHCP client, at least one entry when asked. */
export function checkAddressList(addresses: readonly AddressSpec[], opts: { required?: boolean } = {}): void {
  if (opts.required && addresses.length === 0) {
    throw invalid('no address given', 'give an address like 10.1.1.5/24, or 0/0 for none');
  }
  if (addresses.some((a) => a.kind === 'none') && addresses.length > 1) {
    throw invalid(
      '0/0 means no address; it cannot be combined with other addresses',
      'drop 0/0, or drop the other addresses',
    );
  }
  if (addresses.filter((a) => a.kind === 'dhcp').length > 1) throw invalid('only one DHCP client per interface');
  const seen = new Map<string, string>();
  for (const a of addresses) {
    if (a.kind !== 'static') continue;
    const before = seen.get(a.cidr.addr.text);
    if (before !== undefined)
      throw invalid(
        `${a.cidr.addr.text} is given twice (${before} and ${a.cidr.text})`,
        'an interface holds each address once: drop one of them',
      );
    seen.set(a.cidr.addr.text, a.cidr.text);
  }
}

/** The text of an address as the CLI reads it (for messages and the fingerprint). */
export function addressText(a: AddressSpec): string {
  if (a.kind === 'static') return a.gateway ? `${a.cidr.text}@${a.gateway.text}` : a.cidr.text;
  if (a.kind === 'dhcp') return a.options ? `${a.client}:${a.options}` : a.client;
  return '0/0';
}

/** pipework's `-a 4|6`: checked against the addresses, from which fleetnet reads the family anyway. */
export function checkFamily(family: string | boolean | undefined, addresses: AddressSpec[]): void {
  if (family === undefined) return;
  if (family !== '4' && family !== '6') throw invalid(`-a ${String(family)}: the address family is 4 or 6`);
  for (const a of addresses) {
    if (a.kind === 'static' && String(a.cidr.addr.family) !== family) {
      throw invalid(
        `-a ${family}, but ${a.cidr.text} is IPv${a.cidr.addr.family}`,
        'leave -a out: fleetnet reads the family from each address, and one attach may carry both (dual stack)',
      );
    }
  }
}
