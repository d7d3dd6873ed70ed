// What fleetnet made on the host (bridges, `<if>.<VID>`, OVS bridges) goes with its last attachment; what it found
// stays.
import type { Runner } from '../../common/runner.js';
import { OWNED_ALIAS, readHostLink } from '../linux/sysfs.js';
import type { OvsCtl } from '../ovs/vsctl.js';
import type { AttachmentRecord, OwnedRef, RecordStore } from './records.js';

export interface OwnershipDeps {
  runner: Runner;
  ovs: OvsCtl;
  records: RecordStore;
  /** An attach under way uses it (it holds no record yet). */
  busy(name: string): boolean;
  sysClassNet?: string;
}

/** Owned refs of a record; records written before `owned` existed only knew `createdHostIf`. */
export function ownedOf(r: AttachmentRecord): OwnedRef[] {
  if (r.owned) return r.owned;
  return r.createdHostIf ? [{ type: r.kind === 'ovs' ? 'ovs-bridge' : 'link', name: r.hostIf }] : [];
}

function inUse(records: RecordStore, ref: OwnedRef): boolean {
  return (
    records.find(
      (r) =>
        r.hostIf === ref.name ||
        r.parent === ref.name ||
        ownedOf(r).some((o) => o.name === ref.name && o.type === ref.type),
    ).length > 0
  );
}

/** Call under the host interface's lock. Deletes only what still carries fleetnet's mark. */
export async function deleteOwnedIfUnused(d: OwnershipDeps, ref: OwnedRef): Promise<boolean> {
  if (d.busy(ref.name) || inUse(d.records, ref)) return false;
  if (ref.type === 'link') {
    const h = readHostLink(ref.name, d.sysClassNet);
    if (!h || h.alias !== OWNED_ALIAS) return false;
    await d.runner.run('ip', ['link', 'del', ref.name], { allowFail: true });
    return true;
  }
  if (!(await d.ovs.bridgeOwned(ref.name))) return false;
  if ((await d.ovs.listPorts(ref.name)).length) return false; // someone else's ports: leave the bridge
  await d.ovs.run('--if-exists', 'del-br', ref.name);
  return true;
}
