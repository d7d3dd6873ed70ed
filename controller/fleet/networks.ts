// Networks: created once, removed only when nothing is attached to them. Subnets may overlap
// (the mesh keeps same-subnet networks apart by key); an address in two networks then needs --net.
import { conflict, notFound } from '../../common/errors.js';
import type { NetworkInput } from '../../common/network-spec.js';
import { buildNetwork } from '../ipam/network-spec.js';
import type { Tx } from '../store/store.js';
import type { NetworkRecord } from '../store/types.js';
import { withMeshKey } from '../mesh/fleet-mesh.js';

export function createNetwork(tx: Tx, i: NetworkInput, nowMs: number): { network: NetworkRecord; created: boolean } {
  const n = withMeshKey(tx, buildNetwork(i, nowMs));
  const existing = tx.getNetwork(n.name);
  if (existing) {
    // Mesh members change with mesh add/rm; a picked key is whatever was picked then.
    const settings = (x: NetworkRecord): Record<string, unknown> => ({
      ...x,
      createdMs: 0,
      cursors: {},
      mesh: x.mesh ? { ...x.mesh, members: [], key: 0 } : undefined,
    });
    const [was, asked] = [settings(existing), settings(n)];
    const differ = Object.keys({ ...was, ...asked }).filter((k) => JSON.stringify(was[k]) !== JSON.stringify(asked[k]));
    if (i.mesh?.key && existing.mesh?.key !== i.mesh.key) differ.push('mesh key');
    if (!differ.length) return { network: existing, created: false };
    const show = (v: unknown) =>
      v === undefined || v === '' || (Array.isArray(v) && !v.length)
        ? '-'
        : Array.isArray(v)
          ? v.join(',')
          : JSON.stringify(v);
    const what = differ.map((k) => (k === 'mesh key' ? k : `${k} ${show(was[k])} (asked: ${show(asked[k])})`));
    throw conflict(
      `network ${n.name} already exists with other settings: ${what.join('; ')}`,
      `remove it first (fleetnet net rm ${n.name}), or create it with the settings it has`,
    );
  }
  for (const other of tx.listNetworks()) {
    if (n.bridge && other.bridge === n.bridge)
      throw conflict(`bridge ${n.bridge} is already used by network ${other.name}`, 'give --bridge NAME');
  }
  tx.putNetwork(n);
  return { network: n, created: true };
}

/** The refusal for a network name nobody created. */
export const noSuchNetwork = (name: string) => notFound(`no network named ${name}`, 'see them with: fleetnet nets');

export function removeNetwork(tx: Tx, name: string): boolean {
  if (!tx.getNetwork(name)) throw noSuchNetwork(name);
  const count = tx.countAttachments({ net: name });
  if (count)
    throw conflict(`network ${name} still has ${count} attachment(s)`, `detach them first (fleetnet ls --net ${name})`);
  tx.deleteNetwork(name);
  return true;
}
