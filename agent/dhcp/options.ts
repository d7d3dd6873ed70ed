// `client:options` from the attach: an allowlist per client. Options that fight the supervisor
// (quit after the lease, go to the background, other scripts, pid or lease files, another
// interface) are refused with the reason, so the client stays in the foreground under the agent.
import { invalid } from '../../common/errors.js';
import { tryParseAddr } from '../../common/ip.js';
import type { DhcpClient } from './types.js';

type Value = 'none' | 'number' | 'word' | 'ipv4' | 'optval';
interface Rule {
  value: Value;
  what: string;
}

const NUMBER = /^\d{1,6}$/;
const WORD = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const OPTVAL = /^[A-Za-z0-9_]{1,32}:[A-Za-z0-9_.:-]{1,128}$/;

const UDHCPC: Record<string, Rule> = {
  '-O': { value: 'word', what: 'request option OPT from the server' },
  '-x': { value: 'optval', what: 'send option OPT:VAL' },
  '-V': { value: 'word', what: 'vendor class' },
  '-t': { value: 'number', what: 'discover packets to send' },
  '-T': { value: 'number', what: 'seconds between discover packets' },
  '-A': { value: 'number', what: 'seconds to wait after a failed attempt' },
  '-r': { value: 'ipv4', what: 'request this address' },
  '-o': { value: 'none', what: 'do not request the default options' },
  '-C': { value: 'none', what: 'do not send the MAC as client identifier' },
  '-B': { value: 'none', what: 'ask for broadcast replies' },
  '-a': { value: 'none', what: 'check the offered address with ARP' },
  '-F': { value: 'word', what: 'ask the server to update DNS for NAME' },
};
const DHCLIENT: Record<string, Rule> = {
  '-timeout': { value: 'number', what: 'seconds before giving up one attempt' },
  '-v': { value: 'none', what: 'verbose log' },
  '-q': { value: 'none', what: 'quiet log' },
  '-I': { value: 'none', what: 'standard DDNS client identifier' },
  '-B': { value: 'none', what: 'broadcast flag off' },
  '-s': { value: 'ipv4', what: 'send to this server instead of broadcast' },
};
const DHCPCD: Record<string, Rule> = {
  '-o': { value: 'word', what: 'request option' },
  '-O': { value: 'word', what: 'do not request option' },
  '-Q': { value: 'word', what: 'require option' },
  '-i': { value: 'word', what: 'vendor class id' },
  '-I': { value: 'word', what: 'client id' },
  '-l': { value: 'number', what: 'lease time to ask for' },
  '-t': { value: 'number', what: 'timeout' },
  '-r': { value: 'ipv4', what: 'request this address' },
  '-m': { value: 'number', what: 'route metric' },
  '-L': { value: 'none', what: 'no IPv4 link-local fallback' },
  '-A': { value: 'none', what: 'no ARP probe' },
  '-d': { value: 'none', what: 'debug log' },
};

export const ALLOWED: Record<DhcpClient, Record<string, Rule>> = {
  udhcpc: UDHCPC,
  dhcp: UDHCPC,
  dhclient: DHCLIENT,
  dhcpcd: DHCPCD,
};

/** Refused on purpose, with the reason the user reads. */
const REFUSED: Record<DhcpClient, Record<string, string>> = {
  udhcpc: {
    '-q': 'it quits after the lease; use --dhcp-oneshot for one lease and no renewals',
    '-n': 'it quits when no lease comes; fleetnet keeps trying and restarts the client',
    '-b': 'it goes to the background; fleetnet runs the client in the foreground to supervise it',
    '-f': 'fleetnet already runs the client in the foreground',
    '-s': "fleetnet runs its own hook script (the default one would rewrite the machine's /etc/resolv.conf)",
    '-p': 'fleetnet keeps the pid file',
    '-i': 'the interface is the one being attached (-i of fleetnet attach)',
    '-R': 'fleetnet releases the lease on detach by itself',
    '-S': "the client's log goes to the agent's state directory",
  },
  dhcp: {},
  dhclient: {
    '-1': 'it quits after one attempt; fleetnet keeps trying',
    '-nw': 'it goes to the background; fleetnet runs the client in the foreground to supervise it',
    '-d': 'fleetnet already runs the client in the foreground',
    '-sf': "fleetnet runs its own hook script (dhclient-script would rewrite the machine's /etc/resolv.conf)",
    '-pf': 'fleetnet keeps the pid file',
    '-lf': 'fleetnet keeps the lease file',
    '-cf': 'fleetnet writes the configuration',
    '-df': "fleetnet keeps the client's files",
    '--no-pid': 'fleetnet needs the pid file',
    '-r': 'detach releases the lease',
    '-x': 'detach stops the client',
    '-e': 'the hook takes no environment from the command line',
    '-6': 'DHCPv6 is not supported by fleetnet yet; use a static IPv6 address',
  },
  dhcpcd: {
    '-1': 'it quits after the lease; use --dhcp-oneshot for one lease and no renewals',
    '-b': 'it goes to the background; fleetnet runs the client in the foreground to supervise it',
    '-B': 'fleetnet already runs the client in the foreground',
    '-c': "fleetnet runs its own hook script (dhcpcd-run-hooks would rewrite the machine's /etc/resolv.conf)",
    '-f': 'fleetnet writes the configuration',
    '-e': 'the hook takes no environment from the command line',
    '-k': 'detach releases the lease',
    '-x': 'detach stops the client',
    '-n': 'fleetnet renews by itself',
    '-p': 'detach must take the address away',
    '-w': 'fleetnet waits for the lease itself',
    '-6': 'DHCPv6 is not supported by fleetnet yet; use a static IPv6 address',
    '-h': "the host name is the container's name",
  },
};
REFUSED.dhcp = REFUSED.udhcpc;

/** Splits and checks `options`; returns the argv words to add to the client's command. */
export function parseClientOptions(client: DhcpClient, options: string): string[] {
  const words = options.split(/[\s,]+/).filter(Boolean);
  const allowed = ALLOWED[client];
  const out: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const why = REFUSED[client][w];
    if (why) throw invalid(`${client} option ${w} is refused: ${why}`, allowedHint(client));
    const rule = allowed[w];
    if (!rule) throw invalid(`${client} option '${w}' is not in fleetnet's allowlist`, allowedHint(client));
    out.push(w);
    if (rule.value === 'none') continue;
    const v = words[++i];
    if (v === undefined) throw invalid(`${client} option ${w} needs a value (${rule.what})`);
    checkValue(client, w, rule, v);
    out.push(v);
  }
  return out;
}

function checkValue(client: DhcpClient, opt: string, rule: Rule, v: string): void {
  const ok =
    rule.value === 'number'
      ? NUMBER.test(v)
      : rule.value === 'word'
        ? WORD.test(v)
        : rule.value === 'optval'
          ? OPTVAL.test(v)
          : tryParseAddr(v)?.family === 4;
  if (!ok)
    throw invalid(
      `${client} option ${opt} '${v}' is not a valid ` +
        `${rule.value === 'ipv4' ? 'IPv4 address' : rule.value} (${rule.what})`,
    );
}

function allowedHint(client: DhcpClient): string {
  const list = Object.entries(ALLOWED[client]).map(([k, r]) =>
    r.value === 'none' ? k : `${k} ${r.value.toUpperCase()}`,
  );
  return (
    `allowed for ${client}: ${list.join(', ')}; separate words with spaces or commas, e.g. ` +
    `${client}:${client === 'dhclient' ? '-timeout,30' : '-O,ntpsrv'}`
  );
}

/** A DHCP host name from a container name: letters, digits and '-' (RFC 1123 labels), else none. */
export function dhcpHostname(name: string): string | undefined {
  const h = name
    .replace(/^\//, '')
    .replace(/[_.]/g, '-')
    .toLowerCase()
    .slice(0, 63)
    .replace(/^-+|-+$/g, '');
  return /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(h) ? h : undefined;
}
