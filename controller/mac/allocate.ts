// MACs for attachments: XX:IP:IP:IP:YY:ZZ by default, unique fleet-wide; U:<string> and explicit
// MACs unique within their network (one layer-2 domain). Checked and reserved in the caller's Tx.
import { randomBytes } from 'node:crypto';
import type { MacSpec } from '../../common/attach-args.js';
import { conflict, failed, invalid } from '../../common/errors.js';
import { parseAddr } from '../../common/ip.js';
import { macFromHostIp } from '../../common/mac.js';
import { describeHolder } from '../ipam/allocate.js';
import type { Tx } from '../store/store.js';
import type { AttachmentRecord } from '../store/types.js';

export const FLEET_SCOPE = 'fleet';
export const netScope = (net: string) => `net:${net}`;

/** Random tries before giving up: 2^16 random tail values per host and 64 XX values make a clash rare. */
const MAX_TRIES = 64;

export interface MacChoice {
  mac: string;
  scheme: 'auto' | 'explicit' | 'string';
  source: string;
}

/** Random bytes for MACs. */
export type RandomSource = (n: number) => Buffer;

/**
 * randomBytes drawn in bulk: one 4 KiB draw serves about a thousand MACs (a randomBytes call per
 * MAC was ~3 % of the controller's CPU in an allocation burst). One per controller service.
 */
export function pooledRandom(poolBytes = 4096): RandomSource {
  let pool = Buffer.alloc(0);
  let off = 0;
  return (n) => {
    if (off + n > pool.length) {
      pool = randomBytes(Math.max(poolBytes, n));
      off = 0;
    }
    off += n;
    return pool.subarray(off - n, off);
  };
}

export function allocateMac(
  tx: Tx,
  o: { net: string; underlayIp: string; spec: MacSpec; owner: string },
  rand: RandomSource = randomBytes,
): MacChoice {
  const scope = netScope(o.net);
  if (o.spec.kind !== 'auto') {
    const mac = o.spec.mac;
    // Within the network: a U:/explicit MAC, or a generated one given to an attachment of this network.
    const fleetHolder = tx.macHolder(FLEET_SCOPE, mac);
    const holder =
      tx.macHolder(scope, mac) ??
      (fleetHolder && tx.getAttachment(fleetHolder)?.net === o.net ? fleetHolder : undefined);
    if (holder && holder !== o.owner) {
      throw conflict(
        `MAC ${mac} is already used in network ${o.net} by ${describeHolder(tx, holder)}`,
        'choose another MAC or U:string, or leave it out to have one allocated',
      );
    }
    if (!holder) tx.reserveMac(scope, mac, o.owner);
    return { mac, scheme: o.spec.kind, source: o.spec.kind === 'string' ? o.spec.source : '' };
  }
  const ip = parseAddr(o.underlayIp, 'underlay address');
  if (ip.family !== 4)
    throw invalid(
      `the host's underlay address ${ip.text} is not IPv4`,
      'the XX:IP:IP:IP:YY:ZZ scheme needs an IPv4 underlay; give a MAC or U:string',
    );
  for (let i = 0; i < MAX_TRIES; i++) {
    const mac = macFromHostIp(ip, rand);
    // Unique fleet-wide, and not equal to a U:/explicit MAC someone chose in this network.
    if (tx.macHolder(FLEET_SCOPE, mac) !== undefined || tx.macHolder(scope, mac) !== undefined) continue;
    tx.reserveMac(FLEET_SCOPE, mac, o.owner);
    return { mac, scheme: 'auto', source: '' };
  }
  throw failed(`no free MAC found for host ${o.underlayIp} after ${MAX_TRIES} tries`);
}

/** Frees what an attachment held: its addresses in its network and its MAC in the scope it was reserved in. */
export function releaseHoldings(tx: Tx, a: AttachmentRecord): void {
  for (const x of a.addresses) tx.releaseAddress(a.net, x.cidr.slice(0, x.cidr.lastIndexOf('/')));
  const scope = a.macScheme === 'auto' ? FLEET_SCOPE : netScope(a.net);
  if (tx.macHolder(scope, a.mac) === a.id) tx.releaseMac(scope, a.mac);
}
