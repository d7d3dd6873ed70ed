// The MAC an attach asks for, and LAST (`MAC`, `U:string`, either with `@ID`, or `@ID` alone).
import { invalid } from '../errors.js';
import { macFromString, parseMac, type Mac } from '../mac.js';

export type MacSpec = { kind: 'auto' } | { kind: 'explicit'; mac: Mac } | { kind: 'string'; source: string; mac: Mac };

export function parseLast(t: string): { mac: MacSpec; id?: string } {
  const at = t.lastIndexOf('@');
  const macPart = at < 0 ? t : t.slice(0, at);
  const id = at < 0 ? undefined : t.slice(at + 1);
  if (id !== undefined && !/^[0-9a-fA-F]{1,4}$/.test(id)) {
    throw invalid(`'@${id}' is not a VLAN id (1-4094) or an IPoIB pkey (hex)`);
  }
  let mac: MacSpec = { kind: 'auto' };
  if (macPart.startsWith('U:'))
    mac = { kind: 'string', source: macPart.slice(2), mac: macFromString(macPart.slice(2)) };
  else if (macPart !== '') mac = { kind: 'explicit', mac: parseMac(macPart) };
  return id === undefined ? { mac } : { mac, id };
}

/** The proto's two MAC fields (an explicit MAC, or a U: source string): at most one. */
export function parseMacFields(mac: string, macString: string): MacSpec {
  if (mac && macString) throw invalid('give either a MAC or U:string, not both');
  if (mac) return { kind: 'explicit', mac: parseMac(mac) };
  if (macString) return { kind: 'string', source: macString, mac: macFromString(macString) };
  return { kind: 'auto' };
}
