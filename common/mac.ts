// MAC addresses and fleetnet's MAC schemes.
import { createHash, randomBytes } from 'node:crypto';
import { invalid } from './errors.js';
import type { IpAddr } from './ip.js';

export type Mac = string & { readonly __mac: unique symbol };

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

export function parseMac(s: string): Mac {
  const m = s.toLowerCase().replace(/-/g, ':');
  if (!MAC_RE.test(m))
    throw invalid(`'${s}' is not a MAC address`, `write it as six hex octets, like 02:12:34:56:78:9a`);
  const first = parseInt(m.slice(0, 2), 16);
  if (first & 1)
    throw invalid(`MAC '${s}' is a multicast address`, `the first octet must be even; 02:… is a safe local choice`);
  if (m === '00:00:00:00:00:00') throw invalid(`MAC '${s}' is all zeros`);
  return m as Mac;
}

export function isLocallyAdministered(m: Mac): boolean {
  return (parseInt(m.slice(0, 2), 16) & 2) === 2;
}

const U_FORBIDDEN = /[\s\\*?[\]@]/;

/** pipework's `U:<string>` scheme: 02 + the first 40 bits of md5(string + "\n"). */
export function macFromString(s: string): Mac {
  if (s.length === 0) throw invalid(`'U:' needs a string after it`, `for example U:web1.example.com`);
  if (U_FORBIDDEN.test(s) || s.startsWith('-')) {
    throw invalid(
      `'U:${s}' contains whitespace, '\\', '*', '?', '[', '@' or a leading '-'`,
      `use letters, digits, '.', '-' and '_'`,
    );
  }
  const h = createHash('md5')
    .update(s + '\n')
    .digest('hex');
  return ['02', h.slice(0, 2), h.slice(2, 4), h.slice(4, 6), h.slice(6, 8), h.slice(8, 10)].join(':') as Mac;
}

/**
 * The XX:IP:IP:IP:YY:ZZ scheme: XX random with its two low bits 10 (unicast, locally
 * administered), then the last three octets of the host's underlay IPv4, then two random octets.
 */
export function macFromHostIp(hostIp: IpAddr, rand: (n: number) => Buffer = randomBytes): Mac {
  if (hostIp.family !== 4) throw invalid(`the host's underlay address ${hostIp.text} is not IPv4`);
  const r = rand(3);
  const xx = (r[0]! & 0xfc) | 0x02;
  const ip = [16n, 8n, 0n].map((s) => Number((hostIp.value >> s) & 0xffn));
  return [xx, ...ip, r[1]!, r[2]!].map((b) => b.toString(16).padStart(2, '0')).join(':') as Mac;
}

export function randomLocalMac(rand: (n: number) => Buffer = randomBytes): Mac {
  const r = rand(6);
  r[0] = (r[0]! & 0xfc) | 0x02;
  return [...r].map((b) => b.toString(16).padStart(2, '0')).join(':') as Mac;
}
