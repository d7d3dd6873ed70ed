// The attach grammar (DESIGN.md): tokens are told apart by syntax, exactly as documented.
//   [HOSTIF] TARGET ADDRESS... [LAST]
import { invalid } from './errors.js';
import { parseAddr, parseIfAddr, tryParseAddr, type Cidr, type IpAddr } from './ip.js';
import { parseIfName } from './ifname.js';
import { macFromString, parseMac, type Mac } from './mac.js';

export type TargetKind = 'auto' | 'docker' | 'pid' | 'netns' | 'lxc' | 'path';
export interface TargetRef {
  kind: TargetKind;
  value: string;
}

export type DhcpClient = 'dhcp' | 'dhclient' | 'udhcpc' | 'dhcpcd';
export type AddressSpec =
  | { kind: 'static'; cidr: Cidr; gateway?: IpAddr }
  | { kind: 'none' }
  | { kind: 'dhcp'; client: DhcpClient; options: string };

export type MacSpec = { kind: 'auto' } | { kind: 'explicit'; mac: Mac } | { kind: 'string'; source: string; mac: Mac };

export interface AttachArgs {
  hostIf?: string;
  target: TargetRef;
  addresses: AddressSpec[];
  mac: MacSpec;
  /** `@ID` as typed; a VLAN id, or an IPoIB pkey in hex. */
  id?: string;
}

const DHCP_RE = /^(dhcp|dhclient|udhcpc|dhcpcd)(-f)?(?::(.*))?$/s;

export function isAddressToken(t: string): boolean {
  return t === '0/0' || DHCP_RE.test(t) || (t.includes('/') && !t.startsWith('/') && tryParseAddr(t.split('/')[0]!.split('@')[0]!) !== undefined) || tryParseAddr(t.split('@')[0]!) !== undefined;
}

export function parseAddressToken(t: string): AddressSpec {
  if (t === '0/0') return { kind: 'none' };
  const d = DHCP_RE.exec(t);
  if (d) return { kind: 'dhcp', client: d[1] as DhcpClient, options: d[3] ?? '' };
  const at = t.indexOf('@');
  const cidr = parseIfAddr(at < 0 ? t : t.slice(0, at));
  if (at < 0) return { kind: 'static', cidr };
  const gateway = parseAddr(t.slice(at + 1), 'gateway');
  if (gateway.family !== cidr.addr.family) {
    throw invalid(`gateway ${gateway.text} is IPv${gateway.family} but address ${cidr.text} is IPv${cidr.addr.family}`);
  }
  if (gateway.value === cidr.addr.value) throw invalid(`gateway ${gateway.text} is the interface's own address`);
  return { kind: 'static', cidr, gateway };
}

export function parseTarget(t: string): TargetRef {
  if (t.length === 0) throw invalid('the container is empty');
  if (t.startsWith('/')) return { kind: 'path', value: t };
  const m = /^(docker|pid|netns|lxc):(.*)$/s.exec(t);
  if (m) {
    const kind = m[1] as TargetKind;
    const value = m[2]!;
    if (!value) throw invalid(`'${t}' names no container`, `write ${kind}:NAME`);
    if (kind === 'pid' && !/^[1-9]\d{0,9}$/.test(value)) throw invalid(`'${value}' is not a process id`);
    if (kind !== 'pid') checkName(value, kind);
    return { kind, value };
  }
  if (/^\d+$/.test(t)) {
    if (!/^[1-9]\d{0,9}$/.test(t)) throw invalid(`'${t}' is not a process id`);
    return { kind: 'pid', value: t };
  }
  checkName(t, 'container');
  return { kind: 'auto', value: t };
}

function checkName(v: string, what: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/.test(v)) {
    throw invalid(`${what} name '${v}' has characters no container or namespace name uses`, `names are letters, digits, '.', '-' and '_'`);
  }
}

export function parseLast(t: string): { mac: MacSpec; id?: string } {
  const at = t.lastIndexOf('@');
  const macPart = at < 0 ? t : t.slice(0, at);
  const id = at < 0 ? undefined : t.slice(at + 1);
  if (id !== undefined && !/^[0-9a-fA-F]{1,4}$/.test(id)) {
    throw invalid(`'@${id}' is not a VLAN id (1-4094) or an IPoIB pkey (hex)`);
  }
  let mac: MacSpec = { kind: 'auto' };
  if (macPart.startsWith('U:')) mac = { kind: 'string', source: macPart.slice(2), mac: macFromString(macPart.slice(2)) };
  else if (macPart !== '') mac = { kind: 'explicit', mac: parseMac(macPart) };
  return id === undefined ? { mac } : { mac, id };
}

/** VLAN ids are decimal 1-4094; on an IPoIB parent (`ib*`) the id is a pkey in hex, as pipework reads it. */
export function parseVlanId(id: string): number {
  if (!/^\d{1,4}$/.test(id) || Number(id) < 1 || Number(id) > 4094) {
    throw invalid(`VLAN id '${id}' is out of range`, `VLAN ids are decimal, 1 to 4094`);
  }
  return Number(id);
}

export function parsePkey(id: string): number {
  const v = parseInt(id, 16);
  if (!/^[0-9a-fA-F]{1,4}$/.test(id) || v === 0 || v === 0xffff) throw invalid(`IPoIB pkey '${id}' is out of range (hex 1-fffe)`);
  return v;
}

export function parseAttachArgs(tokens: readonly string[], opts: { net?: string } = {}): AttachArgs {
  const first = tokens.findIndex(isAddressToken);
  let lead: string[];
  let addrTokens: string[];
  let rest: string[];
  if (first < 0) {
    if (!opts.net) {
      throw invalid('no address given', 'add an address like 10.1.1.5/24, 0/0 for none, dhcp, or --net NAME to allocate one');
    }
    lead = tokens.slice(0, 1) as string[];
    rest = tokens.slice(1) as string[];
    addrTokens = [];
  } else {
    lead = tokens.slice(0, first) as string[];
    let end = first;
    while (end < tokens.length && isAddressToken(tokens[end]!)) end++;
    addrTokens = tokens.slice(first, end) as string[];
    rest = tokens.slice(end) as string[];
  }
  if (lead.length === 0) throw invalid('no container given', 'write: fleetnet attach [HOSTIF] CONTAINER ADDRESS');
  if (lead.length > 2) {
    throw invalid(`too many words before the address: ${lead.join(' ')}`, 'write: fleetnet attach [HOSTIF] CONTAINER ADDRESS... [MAC][@VLAN]');
  }
  if (rest.length > 1) throw invalid(`unexpected words after the addresses: ${rest.join(' ')}`, 'only one MAC[@VLAN] may follow the addresses');
  if (lead.length === 2 && opts.net) throw invalid('--net and a host interface do not go together', 'the network says which bridge to use');
  const hostIf = lead.length === 2 ? parseIfName(lead[0]!, 'host interface') : undefined;
  const target = parseTarget(lead[lead.length - 1]!);
  const addresses = addrTokens.map(parseAddressToken);
  if (addresses.some((a) => a.kind === 'none') && addresses.length > 1) throw invalid('0/0 means no address; it cannot be combined with other addresses');
  const dhcp = addresses.filter((a) => a.kind === 'dhcp');
  if (dhcp.length > 1) throw invalid('only one DHCP client per interface');
  const last = rest.length ? parseLast(rest[0]!) : { mac: { kind: 'auto' } as MacSpec };
  if (last.id !== undefined && !(hostIf && hostIf.startsWith('ib'))) parseVlanId(last.id);
  if (last.id !== undefined && hostIf?.startsWith('ib')) parsePkey(last.id);
  return { ...(hostIf ? { hostIf } : {}), target, addresses, mac: last.mac, ...(last.id !== undefined ? { id: last.id } : {}) };
}
