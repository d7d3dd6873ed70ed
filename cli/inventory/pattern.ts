// Ansible host patterns, for `--limit`: names and groups, `:` or `,` for union, `:&` for
// intersection, `:!` for exclusion, shell wildcards (`web*`, `db-?`) and `~REGEX`. Evaluated as
// Ansible's InventoryManager does: the unions in order, then the intersections, then the exclusions.
// Stricter than Ansible: a part that matches nothing is an error (Ansible warns), so a typo in a
// limit cannot silently act on fewer hosts — or, after `:!`, on more.
import { invalid } from '../../common/errors.js';
import type { InventoryData } from './model.js';

/** Splits like Ansible's split_host_pattern: on `,` when there is one, else on `:` outside brackets. */
export function splitPattern(pattern: string): string[] {
  if (pattern.includes(','))
    return pattern
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
  const parts = pattern.match(/(?:[^\s:[\]]|\[[^\]]*\])+/g) ?? [];
  const rest = parts.reduce((r, p) => r.replace(p, ''), pattern).replace(/[\s:]/g, '');
  if (rest)
    throw invalid(`--limit '${pattern}': unbalanced '${rest[0]}'`, 'brackets in a pattern must close: ~web[0-9]+');
  return parts.map((p) => p.trim()).filter(Boolean);
}

function matcher(part: string, limit: string): RegExp {
  if (part.startsWith('~')) {
    try {
      return new RegExp(`^(?:${part.slice(1)})`); // Python's re.match anchors at the start only
    } catch (err) {
      throw invalid(
        `--limit '${limit}': '${part}' is not a valid regular expression (${(err as Error).message})`,
        'write ~REGEX, e.g. ~web[0-9]+',
      );
    }
  }
  if (/[[\]]/.test(part))
    throw invalid(
      `--limit '${limit}': '${part}': subscripts and ranges are not supported in a limit`,
      'name the hosts, a group, or use a wildcard (web*) or ~REGEX',
    );
  // fnmatch: * any run, ? one character; everything else literal
  const re = part
    .replace(/[.+^${}()|\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`);
}

/**
 * The hosts one pattern part names: groups (with their descendants' hosts), then hosts for wildcards or when no group
 * matched.
 */
function hostsOfPart(inv: InventoryData, part: string, limit: string): string[] {
  const re = matcher(part, limit);
  const out = new Set<string>();
  const groups = [...inv.groups.keys()].filter((g) => re.test(g));
  for (const g of groups) for (const h of inv.hostsOf(g)) out.add(h);
  if (!groups.length || part.startsWith('~') || /[.?*]/.test(part))
    for (const h of inv.hosts.keys()) if (re.test(h)) out.add(h);
  return [...out];
}

/**
 * The hosts of the inventory a limit selects, in Ansible's order; exit 2 naming the part that is bad or matches
 * nothing.
 */
export function selectHosts(inv: InventoryData, limit: string | undefined): string[] {
  if (limit === undefined) return inv.hostsOf('all');
  if (!limit.trim()) throw invalid('--limit is empty', 'give a host, a group or a pattern, e.g. --limit web:&dc1');
  const parts = splitPattern(limit);
  if (!parts.length)
    throw invalid(
      `--limit '${limit}' names no host or group`,
      'e.g. --limit web, --limit "web:!web3", --limit "~db-[ab]"',
    );
  const plain: string[] = [];
  const and: string[] = [];
  const not: string[] = [];
  for (const p of parts) {
    if (p.startsWith('&')) and.push(p.slice(1));
    else if (p.startsWith('!')) not.push(p.slice(1));
    else plain.push(p);
  }
  const empty = [...and, ...not].find((p) => !p);
  if (empty !== undefined)
    throw invalid(`--limit '${limit}': '&' or '!' without a name after it`, 'e.g. web:&dc1 or web:!web3');
  const of = (p: string) => {
    const hs = hostsOfPart(inv, p, limit);
    if (!hs.length)
      throw invalid(
        `--limit '${limit}': '${p}' matches no host or group in ${inv.file}`,
        'check the name (fleetnet host add --inventory FILE --list-hosts lists them)',
      );
    return hs;
  };
  let hosts: string[] = [];
  for (const p of plain.length ? plain : ['all']) for (const h of of(p)) if (!hosts.includes(h)) hosts.push(h);
  for (const p of and) {
    const keep = new Set(of(p));
    hosts = hosts.filter((h) => keep.has(h));
  }
  for (const p of not) {
    const drop = new Set(of(p));
    hosts = hosts.filter((h) => !drop.has(h));
  }
  if (!hosts.length)
    throw invalid(
      `--limit '${limit}' leaves no host`,
      'the parts match hosts, but the intersections and exclusions remove them all',
    );
  return hosts;
}
