// Orphans: host-side veths and OVS ports that carry this agent's ownership marks and that no record
// holds. Only marked objects are ever removed; anything else is left alone, whatever its name.
import { readdirSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Runner } from '../../common/runner.js';
import type { RecordStore } from '../attach/records.js';
import { readHostLink } from '../linux/sysfs.js';
import { OvsCtl } from '../ovs/vsctl.js';

export interface OrphanDeps {
  runner: Runner;
  ovs: OvsCtl;
  records: RecordStore;
  /** Host-side names of attaches under way. */
  inProgress: () => ReadonlySet<string>;
  /** Runs one orphan's removal unless an attach holds its name (Attacher.removeIfUnclaimed); false: skipped. */
  removeIfUnclaimed: (name: string, remove: () => Promise<void>) => Promise<boolean>;
  /** The alias this agent sets on the veths it makes. */
  ownerMark: string;
  /** The agent has its own OVS database (--ovs-db): every fleetnet-tagged port in it is this agent's. */
  privateOvs: boolean;
  sysClassNet?: string;
  log: Logger;
}

export interface Orphan {
  type: 'veth' | 'ovs-port';
  name: string;
  detail: string;
}

const DERIVED = /^fn[0-9a-f]{12}$/;

/** What the sweep would remove (nothing is changed). */
export async function findOrphans(d: OrphanDeps): Promise<Orphan[]> {
  const held = new Set(
    d.records
      .all()
      .map((r) => r.hostIfname)
      .filter(Boolean),
  );
  const busy = d.inProgress();
  const found: Orphan[] = [];
  const marked = (name: string) => readHostLink(name, d.sysClassNet)?.alias === d.ownerMark;
  let names: string[] = [];
  try {
    names = readdirSync(d.sysClassNet ?? '/sys/class/net');
  } catch {
    /* no sysfs: nothing to compare */
  }
  for (const n of names) {
    if (!DERIVED.test(n) || held.has(n) || busy.has(n) || !marked(n)) continue;
    found.push({ type: 'veth', name: n, detail: `host-side veth ${n} marked ${d.ownerMark}, held by no attachment` });
  }
  const ports = await d.ovs.ownedPorts().catch(() => []);
  for (const p of ports) {
    if (held.has(p.port) || busy.has(p.port)) continue;
    if (!d.privateOvs && !marked(p.port)) continue; // the machine's shared OVS: only ports whose veth carries our mark
    if (!found.some((o) => o.name === p.port))
      found.push({
        type: 'ovs-port',
        name: p.port,
        detail:
          `OVS port ${p.port} of ${p.container}/${p.ifname} (attachment ` + `${p.attachmentId}), held by no attachment`,
      });
  }
  return found;
}

/**
 * Removes what findOrphans reports, re-checking each against the records, each while no attach holds its
 * name: an attach that starts meanwhile waits for the removal, and one under way makes the sweep skip it.
 */
export async function removeOrphans(d: OrphanDeps, orphans: Orphan[]): Promise<Orphan[]> {
  const removed: Orphan[] = [];
  for (const o of orphans) {
    if (d.records.find((r) => r.hostIfname === o.name).length) continue;
    const ran = await d.removeIfUnclaimed(o.name, async () => {
      const br = (await d.ovs.run('port-to-br', o.name).catch(() => '')).trim();
      if (br) await d.ovs.run(...OvsCtl.delPortArgs(br, o.name)).catch(() => undefined);
      if (readHostLink(o.name, d.sysClassNet)) await d.runner.run('ip', ['link', 'del', o.name], { allowFail: true });
    });
    if (!ran) continue;
    d.log.info({ orphan: o.name, type: o.type }, 'removed an orphan fleetnet made');
    removed.push(o);
  }
  return removed;
}
