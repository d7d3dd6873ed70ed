// Where the etcd store keeps what. Everything lives under one prefix (default `/fleetnet/`):
//   d/…  the data, mirrored by every controller through one watch (hosts, networks, attachments,
//        address and MAC holders, address blocks, the epoch keys below, trust records)
//   r/…  request ids of commits (one live key per controller: see etcd-store.ts)
//   o/…  dispatch ownership and live controllers (leases: controller/dispatch/ownership.ts)
// Names are URI-encoded, so a `/` in a name can never reach into another key.
// Epoch keys: a transaction that lists a collection compares the collection's epoch key, which is
// rewritten whenever a member is created or removed, so a concurrent insert fails the commit.
export const SCHEMA_VERSION = 1;

const enc = encodeURIComponent;

export const DATA = 'd/';
export const HOSTS = 'd/hosts/';
export const NETS = 'd/nets/';
export const ATTS = 'd/atts/';
export const TRUST = 'd/trust/';
export const BLOCKS = 'd/blk/';
export const ADDRS = 'd/addr/';

export const keys = {
  schema: 'meta/schema',
  host: (name: string) => HOSTS + enc(name),
  net: (name: string) => NETS + enc(name),
  /** A network's allocation cursors (overlay-tx.ts): outside the record, written without a compare. */
  cursor: (name: string) => `d/cur/${enc(name)}`,
  att: (id: string) => ATTS + enc(id),
  addr: (net: string, addr: string) => `${ADDRS}${enc(net)}/${enc(addr)}`,
  mac: (scope: string, mac: string) => `d/mac/${enc(scope)}/${enc(mac)}`,
  /** A network's address block (`10.30.0.64/26`) and the controller it is affine to (controller/ipam/blocks.ts). */
  block: (net: string, block: string) => `${BLOCKS}${enc(net)}/${enc(block)}`,
  epochHosts: 'd/ep/hosts',
  epochNets: 'd/ep/nets',
  epochAtts: 'd/ep/atts',
  epochAttsOfHost: (host: string) => `d/ep/atts-host/${enc(host)}`,
  epochAttsOfNet: (net: string) => `d/ep/atts-net/${enc(net)}`,
  request: (controller: string, seq: number) => `r/${controller}/${seq}`,
  owner: (host: string) => `o/hosts/${enc(host)}`,
  ownersPrefix: 'o/hosts/',
  controller: (id: string) => `o/controllers/${id}`,
  controllersPrefix: 'o/controllers/',
  token: (hash: string) => `${TRUST}tokens/${enc(hash)}`,
  issued: (subject: string, serial: string) => `${TRUST}issued/${enc(subject)}/${enc(serial)}`,
  revoked: (serial: string) => `${TRUST}revoked/${enc(serial)}`,
};

export const nameOf = (key: string, prefix: string): string => decodeURIComponent(key.slice(prefix.length));

/** The end of a prefix range (etcd's convention: the prefix with its last byte plus one). */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}
