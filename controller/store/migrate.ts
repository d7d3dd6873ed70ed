// A whole fleet from one store to another (SQLite ⇄ etcd), through the Store interface only, then
// verified: the destination must hold exactly what the source holds (hosts, networks, attachments,
// every address and MAC holder). The destination must be empty: a migration never merges fleets.
import { FleetnetError, invalid } from '../../common/errors.js';
import { FLEET_SCOPE, netScope } from '../mac/allocate.js';
import type { Store, Tx } from './store.js';
import type { AttachmentRecord, HostRecord, NetworkRecord } from './types.js';

export interface FleetCopy {
  hosts: HostRecord[];
  networks: NetworkRecord[];
  attachments: AttachmentRecord[];
}

export interface MigrateResult {
  hosts: number;
  networks: number;
  attachments: number;
  addresses: number;
  macs: number;
}

const macScope = (a: AttachmentRecord) => (a.macScheme === 'auto' ? FLEET_SCOPE : netScope(a.net));
const addrOf = (cidr: string) => cidr.slice(0, cidr.lastIndexOf('/'));

export async function readFleet(s: Store): Promise<FleetCopy> {
  return s.read((tx) => ({ hosts: tx.listHosts(), networks: tx.listNetworks(), attachments: tx.listAttachments() }));
}

/** Attachments per transaction: small enough for etcd's --max-txn-ops (each is ~4 writes and compares). */
const PER_TX = 10;

/** `writing` is called once the destination was found empty, before the first write to it. */
export async function migrateFleet(
  from: Store,
  to: Store,
  writing: () => void = () => undefined,
): Promise<MigrateResult> {
  const src = await readFleet(from);
  const dst = await readFleet(to);
  if (dst.hosts.length || dst.networks.length || dst.attachments.length) {
    throw invalid(
      `the destination ${to.description} already holds a fleet (${dst.hosts.length} hosts, ` +
        `${dst.networks.length} networks, ${dst.attachments.length} attachments)`,
      'migrate into an empty store: a new SQLite file, or an etcd prefix nothing uses (--etcd-prefix)',
    );
  }
  writing();
  await to.transact((tx) => {
    for (const n of src.networks) tx.putNetwork(n);
    for (const h of src.hosts) tx.putHost(h);
  });
  let addresses = 0;
  let macs = 0;
  const batches: Promise<void>[] = [];
  for (let i = 0; i < src.attachments.length; i += PER_TX) {
    const part = src.attachments.slice(i, i + PER_TX);
    batches.push(
      to.transact((tx) => {
        for (const a of part) copyAttachment(tx, a);
      }),
    );
    for (const a of part) {
      addresses += a.addresses.length;
      if (a.mac) macs++;
    }
  }
  await Promise.all(batches);
  await verifyCopy(from, to);
  return {
    hosts: src.hosts.length,
    networks: src.networks.length,
    attachments: src.attachments.length,
    addresses,
    macs,
  };
}

function copyAttachment(tx: Tx, a: AttachmentRecord): void {
  tx.putAttachment(a);
  for (const x of a.addresses) tx.reserveAddress(a.net, addrOf(x.cidr), a.id);
  if (a.mac) tx.reserveMac(macScope(a), a.mac, a.id);
}

/** Throws naming the first difference between the two stores. */
export async function verifyCopy(from: Store, to: Store): Promise<void> {
  const [a, b] = await Promise.all([readFleet(from), readFleet(to)]);
  const differ = (what: string, x: unknown, y: unknown) => {
    if (JSON.stringify(x) !== JSON.stringify(y))
      throw new FleetnetError('failed', `the copy differs from the source in its ${what}`, {
        hint: 'the destination is incomplete: remove it and migrate again',
      });
  };
  differ('hosts', a.hosts, b.hosts);
  differ('networks', a.networks, b.networks);
  differ('attachments', a.attachments, b.attachments);
  const holders = (s: Store) =>
    s.read((tx) =>
      a.attachments.map((x) => [
        x.addresses.map((c) => tx.addressHolder(x.net, addrOf(c.cidr))),
        x.mac ? tx.macHolder(macScope(x), x.mac) : '',
      ]),
    );
  differ('address and MAC holders', await holders(from), await holders(to));
}
