// Linux interface names and fleetnet's deterministic host-side names.
import { createHash } from 'node:crypto';
import { invalid } from './errors.js';

export type IfName = string & { readonly __ifname: unique symbol };

export const IFNAMSIZ = 15;

export function parseIfName(s: string, what = 'interface name'): IfName {
  const len = Buffer.byteLength(s, 'utf8');
  if (len === 0) throw invalid(`${what} is empty`);
  if (len > IFNAMSIZ) throw invalid(`${what} '${s}' is ${len} bytes long; Linux allows at most ${IFNAMSIZ}`);
  if (s === '.' || s === '..') throw invalid(`${what} cannot be '${s}'`);
  if (/[/:%\s]/.test(s)) throw invalid(`${what} '${s}' contains '/', ':', '%' or whitespace, which Linux refuses`);
  if (s.startsWith('-')) throw invalid(`${what} '${s}' starts with '-'`);
  return s as IfName;
}

const NEW_NAME_RE = /^[A-Za-z0-9_.-]+$/;

/**
 * A name fleetnet will give a link it creates (host side `-l`, container side `-i`, a bridge):
 * Linux's rules plus a conservative character set, ASCII letters, digits, '-', '_' and '.', so that
 * no script or log downstream meets a shell metacharacter or a non-ASCII letter in it.
 */
export function parseNewIfName(s: string, what = 'interface name'): IfName {
  const name = parseIfName(s, what);
  if (!NEW_NAME_RE.test(name)) {
    const bad = [...name].find((ch) => !NEW_NAME_RE.test(ch))!;
    const cleaned = /^[A-Za-z]/.test(s) ? s.replace(/[^A-Za-z0-9_.-]/g, '').slice(0, IFNAMSIZ) : '';
    throw invalid(
      `${what} '${s}' contains '${bad}'; fleetnet names the links it creates with ` +
        `ASCII letters, digits, '-', '_' and '.' only`,
      `choose a name like ${cleaned || 'eth1'}`,
    );
  }
  return name;
}

/** Host-side veth name from stable ids: `fn` + 12 hex characters of a hash (14 bytes). */
export function hostIfName(...stableIds: string[]): IfName {
  const h = createHash('sha256').update(stableIds.join('\0')).digest('hex');
  return `fn${h.slice(0, 12)}` as IfName;
}
