// The attach grammar (DESIGN.md), for CLI words and for `fleetnet.attach=` container labels.
// Tokens are told apart by syntax:  [HOSTIF] TARGET ADDRESS... [LAST]
import { parseArgs } from 'node:util';
import { FleetnetError, invalid } from '../errors.js';
import { parseIfName, parseNewIfName } from '../ifname.js';
import {
  checkAddressList,
  classifyWord,
  isAddressToken,
  notAnAddress,
  parseAddressToken,
  type AddressSpec,
} from './address.js';
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
  // A word meant as an address but malformed is named as such wherever it stands, not read as another word.
  const malformed = tokens.find((t) => classifyWord(t) === 'malformed-address');
  if (malformed !== undefined) throw notAnAddress(malformed);
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

/**
 * The `fleetnet attach` options a `fleetnet.attach=` label may carry, written exactly as the CLI's option table
 * (ATTACH_OPTIONS, cli/commands/attach.ts) writes them; test/unit/lifecycle-labels.test.ts holds the two together.
 */
export const LABEL_ATTACH_OPTIONS: readonly string[] = [
  '-i, --ifname <name>',
  '-l, --host-ifname <name>',
  '--kind <kind>',
  '--macvlan-mode <mode>',
  '--vlan-filtering',
  '--trunk <if>',
  '--ovs-datapath <type>',
  '--mtu <bytes>',
  '--dhcp-dns',
  '--dhcp-oneshot',
];

/** The other `fleetnet attach` options, each with why a label cannot carry it. */
export const LABEL_REFUSED_OPTIONS: readonly (readonly [flags: string, why: string])[] = [
  ['-a, --family <4|6>', "the addresses say their family (pipework's -a is only checked against them): leave it out"],
  ['--direct-phys', 'moving a whole NIC is refused everywhere: give the container a macvlan on it (--kind macvlan)'],
  ['--net <name>', 'a label asks the controller for a network as fleetnet.net=NAME, not inside fleetnet.attach'],
  ['--keep-address', 'a fleetnet.attach label reserves nothing with a controller: there is nothing to keep'],
  ['--host <name>', "the agent of the container's own host acts on its labels; fleetnet.host=NAME says which host"],
  ['--timeout <seconds>', 'nothing waits for a label: the agent acts on it when the container starts'],
  ['--dry-run', 'a label is acted on, not printed: try its words with fleetnet attach --dry-run'],
  ['--json', 'a label prints nothing'],
];

interface LabelFlag {
  short?: string;
  long: string;
  /** The AttachOptionWords field (commander's attribute name: the long name in camelCase). */
  key: keyof AttachOptionWords;
  takesValue: boolean;
  /** Why a label cannot carry it; absent for the options a label takes. */
  refused?: string;
}

const FLAGS = /^(?:-([A-Za-z]), )?--([a-z][a-z0-9-]*)( <[^>]+>)?$/;

function labelFlagOf(flags: string, refused?: string): LabelFlag {
  const m = FLAGS.exec(flags);
  if (!m) throw new Error(`label options: cannot read the option flags '${flags}'`);
  const key = m[2]!.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()) as keyof AttachOptionWords;
  return {
    ...(m[1] ? { short: m[1] } : {}),
    long: m[2]!,
    key,
    takesValue: m[3] !== undefined,
    ...(refused ? { refused } : {}),
  };
}

const LABEL_FLAGS: readonly LabelFlag[] = [
  ...LABEL_ATTACH_OPTIONS.map((f) => labelFlagOf(f)),
  ...LABEL_REFUSED_OPTIONS.map(([f, why]) => labelFlagOf(f, why)),
];
const LABEL_TAKES = `a label takes ${LABEL_ATTACH_OPTIONS.map((f) => f.replace(/ <.*/, '')).join(', ')}`;

/** A label's words and options, as `fleetnet attach` reads them (node's util.parseArgs, as in cli/fast-parse.ts). */
function splitLabelWords(words: string[]): { positional: string[]; o: AttachOptionWords } {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const f of LABEL_FLAGS)
    options[f.long] = { type: f.takesValue ? 'string' : 'boolean', ...(f.short ? { short: f.short } : {}) };
  const byName = new Map(LABEL_FLAGS.map((f) => [f.long, f]));
  const { tokens } = parseArgs({ args: words, options, strict: false, allowPositionals: true, tokens: true });
  const positional: string[] = [];
  const o: AttachOptionWords = {};
  for (const t of tokens) {
    if (t.kind === 'positional') positional.push(t.value);
    if (t.kind !== 'option') continue;
    const f = byName.get(t.name);
    if (!f) throw invalid(`${t.rawName} is not an option of fleetnet attach`, LABEL_TAKES);
    if (f.refused) throw invalid(`${t.rawName} cannot stand in a label: ${f.refused}`, LABEL_TAKES);
    if (f.takesValue && (t.value === undefined || (!t.inlineValue && t.value.startsWith('-'))))
      throw invalid(`${t.rawName} has no value`, `write it as ${t.rawName} VALUE`);
    if (!f.takesValue && t.value !== undefined)
      throw invalid(`${t.rawName} takes no value`, `write ${t.rawName} alone`);
    o[f.key] = t.value ?? true;
  }
  return { positional, o };
}

/**
 * A `fleetnet.attach=` container label: `fleetnet attach`'s words and options with the host interface first and no
 * container (it is the labelled one, `target`), e.g. `br1 192.168.1.10/24@192.168.1.254 U:web1 -i eth2`. The
 * options of LABEL_ATTACH_OPTIONS may stand anywhere, written as on the command line (`--mtu 1400`, `--mtu=1400`,
 * `-ieth2`); the others are refused, saying why. Every error names the label (`label`, as written on the container).
 */
export function parseAttachLabel(value: string, target: TargetRef, label = 'fleetnet.attach'): AttachSpec {
  try {
    const words = value.trim().split(/\s+/).filter(Boolean);
    if (words.length === 0) throw invalid('the label is empty', `write it like ${label}=br1 10.1.1.5/24@10.1.1.1`);
    const { positional, o } = splitLabelWords(words);
    const spec = parseAttachWords(positional, o, target);
    if (!spec.hostIf) throw invalid('the label names no host interface', `put it first, e.g. ${label}=br1 10.1.1.5/24`);
    return spec;
  } catch (err) {
    if (!(err instanceof FleetnetError)) throw err;
    const hint = err.hint === USAGE ? `write: ${label}=HOSTIF ADDRESS... [MAC][@VLAN] [OPTIONS]` : err.hint;
    throw new FleetnetError(err.kind, `label ${label}='${value}': ${err.message}`, {
      cause: err,
      ...(hint ? { hint } : {}),
    });
  }
}
