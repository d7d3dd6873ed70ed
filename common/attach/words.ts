// The attach grammar (DESIGN.md), for CLI words and for `fleetnet.attach=` container labels.
// Tokens are told apart by syntax:  [HOSTIF] TARGET ADDRESS... [LAST]
import { invalid } from '../errors.js';
import { parseIfName, parseNewIfName } from '../ifname.js';
import { checkAddressList, isAddressToken, parseAddressToken, type AddressSpec } from './address.js';
import { parseLast, type MacSpec } from './mac-spec.js';
import { checkId, checkSpec, isIpoibParent, type AttachSpec } from './spec.js';
import { parseTarget, type TargetRef } from './target.js';
import { parseHostIfKind, parseMacvlanMode, parseMtu, parseOvsDatapath, type HostIfKind } from './values.js';

export interface AttachArgs {
  hostIf?: string;
  target: TargetRef;
  addresses: AddressSpec[];
  mac: MacSpec;
  /** `@ID` as typed; a VLAN id, or an IPoIB pkey in hex. */
  id?: string;
}

const USAGE = 'write: fleetnet attach [HOSTIF] CONTAINER ADDRESS... [MAC][@VLAN]';

/**
 * The positional words. With `target` (a container label: the container is the labelled one),
 * the words are `HOSTIF ADDRESS... [LAST]` and at most one word stands before the addresses.
 */
export function parseAttachArgs(
  tokens: readonly string[],
  opts: { net?: string; target?: TargetRef; kind?: HostIfKind } = {},
): AttachArgs {
  const maxLead = opts.target ? 1 : 2;
  const first = tokens.findIndex(isAddressToken);
  let lead: string[];
  let addrTokens: string[];
  let rest: string[];
  if (first < 0) {
    if (!opts.net) {
      throw invalid(
        'no address given',
        'add an address like 10.1.1.5/24, 0/0 for none, dhcp, or --net NAME to allocate one',
      );
    }
    lead = tokens.slice(0, opts.target ? 0 : 1) as string[];
    rest = tokens.slice(lead.length) as string[];
    addrTokens = [];
  } else {
    lead = tokens.slice(0, first) as string[];
    let end = first;
    while (end < tokens.length && isAddressToken(tokens[end]!)) end++;
    addrTokens = tokens.slice(first, end) as string[];
    rest = tokens.slice(end) as string[];
  }
  if (lead.length === 0 && !opts.target)
    throw invalid('no container given', 'write: fleetnet attach [HOSTIF] CONTAINER ADDRESS');
  if (lead.length > maxLead) throw invalid(`too many words before the address: ${lead.join(' ')}`, USAGE);
  if (rest.length > 1)
    throw invalid(
      `unexpected words after the addresses: ${rest.join(' ')}`,
      'only one MAC[@VLAN] may follow the addresses',
    );
  const hasHostIf = lead.length === maxLead;
  if (hasHostIf && opts.net)
    throw invalid('--net and a host interface do not go together', 'the network says which bridge to use');
  const hostIf = hasHostIf ? parseIfName(lead[0]!, 'host interface') : undefined;
  const target = opts.target ?? parseTarget(lead[lead.length - 1]!);
  const addresses = addrTokens.map(parseAddressToken);
  checkAddressList(addresses);
  const last = rest.length ? parseLast(rest[0]!) : { mac: { kind: 'auto' } as MacSpec };
  checkId(last.id, isIpoibParent({ ...(hostIf ? { hostIf } : {}), ...(opts.kind ? { kind: opts.kind } : {}) }));
  return {
    ...(hostIf ? { hostIf } : {}),
    target,
    addresses,
    mac: last.mac,
    ...(last.id !== undefined ? { id: last.id } : {}),
  };
}

/** The attach options as commander hands them over (strings and flags). */
export interface AttachOptionWords {
  ifname?: string | boolean;
  hostIfname?: string | boolean;
  kind?: string | boolean;
  mtu?: string | boolean;
  net?: string | boolean;
  macvlanMode?: string | boolean;
  vlanFiltering?: string | boolean;
  trunk?: string | boolean;
  ovsDatapath?: string | boolean;
  dhcpDns?: string | boolean;
  dhcpOneshot?: string | boolean;
  dryRun?: string | boolean;
}

/** CLI words and options as an AttachSpec, every rule checked; `target` for a container label. */
export function parseAttachWords(words: readonly string[], o: AttachOptionWords = {}, target?: TargetRef): AttachSpec {
  const kind = o.kind !== undefined ? parseHostIfKind(String(o.kind)) : undefined;
  const net = o.net ? String(o.net) : undefined;
  const args = parseAttachArgs(words, {
    ...(net ? { net } : {}),
    ...(target ? { target } : {}),
    ...(kind ? { kind } : {}),
  });
  const spec: AttachSpec = {
    ...(args.hostIf ? { hostIf: parseIfName(args.hostIf, 'host interface') } : {}),
    ...(kind ? { kind } : {}),
    target: args.target,
    addresses: args.addresses,
    mac: args.mac,
    ...(args.id !== undefined ? { id: args.id } : {}),
    ...(o.ifname ? { ifname: parseNewIfName(String(o.ifname), 'container interface name (-i)') } : {}),
    ...(o.hostIfname ? { hostIfname: parseNewIfName(String(o.hostIfname), 'host-side interface name (-l)') } : {}),
    ...(o.mtu !== undefined ? { mtu: parseMtu(String(o.mtu), '--mtu') } : {}),
    ...(net ? { net } : {}),
    ...(o.macvlanMode ? { macvlanMode: parseMacvlanMode(String(o.macvlanMode)) } : {}),
    ...(o.vlanFiltering ? { vlanFiltering: true } : {}),
    ...(o.trunk ? { trunk: parseIfName(String(o.trunk), 'trunk interface (--trunk)') } : {}),
    ...(o.ovsDatapath ? { ovsDatapath: parseOvsDatapath(String(o.ovsDatapath)) } : {}),
    ...(o.dhcpDns ? { dhcpDns: true } : {}),
    ...(o.dhcpOneshot ? { dhcpOneshot: true } : {}),
    ...(o.dryRun ? { dryRun: true } : {}),
  };
  return checkSpec(spec);
}

const LABEL_OPTIONS: Record<string, keyof AttachOptionWords> = {
  '-i': 'ifname',
  '--ifname': 'ifname',
  '-l': 'hostIfname',
  '--host-ifname': 'hostIfname',
  '--mtu': 'mtu',
  '--kind': 'kind',
  '--macvlan-mode': 'macvlanMode',
  '--trunk': 'trunk',
  '--ovs-datapath': 'ovsDatapath',
};
const LABEL_FLAGS: Record<string, keyof AttachOptionWords> = {
  '--vlan-filtering': 'vlanFiltering',
  '--dhcp-dns': 'dhcpDns',
  '--dhcp-oneshot': 'dhcpOneshot',
};

/**
 * A `fleetnet.attach=` container label: the attach grammar with the host interface first and no
 * container (it is the labelled one), e.g. `br1 192.168.1.10/24@192.168.1.254 U:web1 -i eth2`.
 * The options `-i`, `-l`, `--mtu`, `--kind`, `--macvlan-mode`, `--trunk`, `--ovs-datapath`,
 * `--vlan-filtering`, `--dhcp-dns` and `--dhcp-oneshot` may stand anywhere.
 */
export function parseAttachLabel(value: string, target: TargetRef): AttachSpec {
  const words = value.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0)
    throw invalid('the fleetnet.attach label is empty', "write it like 'br1 10.1.1.5/24@10.1.1.1'");
  const positional: string[] = [];
  const o: AttachOptionWords = {};
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (LABEL_FLAGS[w]) o[LABEL_FLAGS[w]] = true;
    else if (LABEL_OPTIONS[w]) {
      const v = words[++i];
      if (v === undefined) throw invalid(`the fleetnet.attach label ends after ${w}`, `give ${w} a value`);
      o[LABEL_OPTIONS[w]] = v;
    } else if (w.startsWith('-')) {
      throw invalid(
        `the fleetnet.attach label has an unknown option ${w}`,
        `use ${[...Object.keys(LABEL_OPTIONS), ...Object.keys(LABEL_FLAGS)].join(', ')}`,
      );
    } else positional.push(w);
  }
  const spec = parseAttachWords(positional, o, target);
  if (!spec.hostIf)
    throw invalid(`the fleetnet.attach label '${value}' names no host interface`, 'put it first, e.g. br1 10.1.1.5/24');
  return spec;
}
