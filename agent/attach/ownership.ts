// What fleetnet made on the host (bridges, `<if>.<VID>`, OVS bridges) goes with its last attachment; what it found
// stays. One an attach cut short left behind (kill -9 before its record was written) is an orphan once it is bare:
// the orphan sweep finds it here and removes it through the same check.
import { readdirSync, readFileSync } from 'node:fs';
import type { Runner } from '../../common/runner.js';
import { OWNED_ALIAS, readHostLink } from '../linux/sysfs.js';
import { ovsMap, OVS_MESH_OWNER_KEY, OVS_OWNED_KEY, OVS_OWNED_VALUE, type OvsCtl } from '../ovs/vsctl.js';
import type { AttachmentRecord, OwnedRef, RecordStore } from './records.js';

export interface OwnershipDeps {
  runner: Runner;
  ovs: OvsCtl;
  records: RecordStore;
  /** An attach under way uses it (it holds no record yet). */
  busy(name: string): boolean;
  sysClassNet?: string;
}

export interface ReleaseOptions {
  /** Only when nothing hangs off it: no bridge port, no upper device (the orphan sweep; a detach does not ask). */
  bare?: boolean;
}

/** What the orphan sweep asks of the Attacher about owned host things (Attacher.owned). */
export interface OwnedKeeper {
  busy(name: string): boolean;
  /** deleteOwnedIfUnused under the thing's host-interface lock: true when it was deleted. */
  release(ref: OwnedRef, opts?: ReleaseOptions): Promise<boolean>;
}

/** Owned refs of a record; records written before `owned` existed only knew `createdHostIf`. */
export function ownedOf(r: AttachmentRecord): OwnedRef[] {
  if (r.owned) return r.owned;
  return r.createdHostIf ? [{ type: r.kind === 'ovs' ? 'ovs-bridge' : 'link', name: r.hostIf }] : [];
}

/** A record uses it: as its host interface, its parent, or as something it owns. */
export function ownedInUse(records: RecordStore, ref: OwnedRef): boolean {
  return (
    records.find(
      (r) =>
        r.hostIf === ref.name ||
        r.parent === ref.name ||
        ownedOf(r).some((o) => o.name === ref.name && o.type === ref.type),
    ).length > 0
  );
}

function entries(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/**
 * What hangs off a host link, read from sysfs: its bridge ports (`brif/`) and upper devices (a bridge it is a port
 * of, a macvlan on it). Devices in other namespaces (a container's macvlan) have no sysfs link here.
 */
export function linkUsers(name: string, sysClassNet = '/sys/class/net'): string[] {
  const dir = `${sysClassNet}/${name}`;
  const uppers = entries(dir)
    .filter((e) => e.startsWith('upper_'))
    .map((e) => e.slice('upper_'.length));
  return [...entries(`${dir}/brif`), ...uppers];
}

/** Host links carrying fleetnet's mark (`fleetnet:owned`): bridges and `<if>.<VID>` it made. One read per link. */
export function ownedLinks(sysClassNet = '/sys/class/net'): string[] {
  const alias = (n: string) => {
    try {
      return readFileSync(`${sysClassNet}/${n}/ifalias`, 'utf8').trim();
    } catch {
      return '';
    }
  };
  return entries(sysClassNet).filter((n) => alias(n) === OWNED_ALIAS);
}

/**
 * OVS bridges carrying fleetnet's mark (external_ids fleetnet=owned), with the owner mark the mesh puts on the ones it
 * makes ('' on others); none when OVS does not answer.
 */
export async function ownedOvsBridges(ovs: OvsCtl): Promise<{ name: string; owner: string }[]> {
  const out = await ovs
    .run(
      '--format=json',
      '--columns=name,external_ids',
      'find',
      'bridge',
      `external_ids:${OVS_OWNED_KEY}=${OVS_OWNED_VALUE}`,
    )
    .catch(() => '');
  if (!out.trim()) return [];
  try {
    return ((JSON.parse(out) as { data: unknown[][] }).data ?? []).map((row) => ({
      name: String(row[0]),
      owner: ovsMap(row[1])[OVS_MESH_OWNER_KEY] ?? '',
    }));
  } catch {
    return [];
  }
}

/** Call under the host interface's lock. Deletes only what still carries fleetnet's mark. */
export async function deleteOwnedIfUnused(
  d: OwnershipDeps,
  ref: OwnedRef,
  opts: ReleaseOptions = {},
): Promise<boolean> {
  if (d.busy(ref.name) || ownedInUse(d.records, ref)) return false;
  if (ref.type === 'link') {
    const h = readHostLink(ref.name, d.sysClassNet);
    if (!h || h.alias !== OWNED_ALIAS) return false;
    if (opts.bare && linkUsers(ref.name, d.sysClassNet).length) return false;
    await d.runner.run('ip', ['link', 'del', ref.name], { allowFail: true });
    return true;
  }
  if (!(await d.ovs.bridgeOwned(ref.name))) return false;
  if ((await d.ovs.listPorts(ref.name)).length) return false; // someone else's ports: leave the bridge
  await d.ovs.run('--if-exists', 'del-br', ref.name);
  return true;
}

/** The Attacher's keeper: `lock` is its per-host-interface queue, so no attach looks at the thing meanwhile. */
export function ownedKeeper(
  d: OwnershipDeps,
  lock: <T>(name: string, fn: () => Promise<T>) => Promise<T>,
): OwnedKeeper {
  return {
    busy: (name) => d.busy(name),
    release: (ref, opts) => lock(ref.name, () => deleteOwnedIfUnused(d, ref, opts)),
  };
}
