// Orphans: host-side veths and OVS ports that carry this agent's ownership marks and that no record
// holds, and bridges and `<if>.<VID>` links (OVS bridges: `check`) carrying fleetnet's mark that no record
// holds, no attach under way uses, no mesh network names, and nothing hangs off (an attach killed before its
// record was written, an agent stopped between a mesh's last tunnel and its bridge).
// Only marked objects are ever removed; anything else is left alone, whatever its name.
import { readdirSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Runner } from '../../common/runner.js';
import { linkUsers, ownedInUse, ownedLinks, ownedOvsBridges, type OwnedKeeper } from '../attach/ownership.js';
import type { OwnedRef, RecordStore } from '../attach/records.js';
import { readHostLink } from '../linux/sysfs.js';
import { OvsCtl, type OwnedPort } from '../ovs/vsctl.js';

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
  /** The tagged OVS ports (the lifecycle pass: WatchedOwnedPorts); absent: ovs.ownedPorts(), read each time. */
  ownedPorts?: () => Promise<OwnedPort[]>;
  sysClassNet?: string;
  log: Logger;
  /** Owned bridges and links (Attacher.owned): its in-flight count and its removal under the lock; absent: not seen. */
  owned?: OwnedKeeper;
  /**
   * Owned OVS bridges too, with a private OVS only (--ovs-db): one `ovs-vsctl find` each time, so `check` asks and
   * the periodic pass does not (a meshed agent at rest runs no ovs-vsctl; see WatchedOwnedPorts).
   */
  ovsBridges?: boolean;
}

export interface Orphan {
  type: 'veth' | 'ovs-port' | 'link' | 'ovs-bridge';
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
  const ports = await (d.ownedPorts ? d.ownedPorts() : d.ovs.ownedPorts()).catch(() => []);
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
  if (d.owned) found.push(...(await ownedOrphans(d, d.owned, found)));
  return found;
}

/** Owned bridges and links that nothing holds; ports that are orphans themselves (`going`) do not keep them. */
async function ownedOrphans(d: OrphanDeps, owned: OwnedKeeper, going: Orphan[]): Promise<Orphan[]> {
  const goes = new Set(going.map((o) => o.name));
  const unused = (ref: OwnedRef) => !owned.busy(ref.name) && !ownedInUse(d.records, ref);
  const out: Orphan[] = [];
  for (const name of ownedLinks(d.sysClassNet)) {
    if (!unused({ type: 'link', name }) || linkUsers(name, d.sysClassNet).some((u) => !goes.has(u))) continue;
    const what = readHostLink(name, d.sysClassNet)?.kind === 'bridge' ? 'bridge' : 'link';
    out.push({
      type: 'link',
      name,
      detail: `${what} ${name} marked fleetnet:owned, with no port, held by no attachment`,
    });
  }
  if (!d.ovsBridges) return out;
  for (const { name, owner } of await ownedOvsBridges(d.ovs)) {
    // The machine's shared OVS: another agent's bridge looks the same, unless the mesh put this agent's mark on it.
    if (!d.privateOvs && owner !== d.ownerMark) continue;
    if (!unused({ type: 'ovs-bridge', name })) continue;
    if ((await d.ovs.listPorts(name)).some((p) => !goes.has(p))) continue;
    out.push({
      type: 'ovs-bridge',
      name,
      detail: `OVS bridge ${name} fleetnet made${owner ? ' for a mesh' : ''}, with no port, held by no attachment`,
    });
  }
  return out;
}

/**
 * Removes what findOrphans reports, re-checking each against the records, each while no attach holds its
 * name: an attach that starts meanwhile waits for the removal, and one under way makes the sweep skip it.
 * Owned bridges and links come after the ports found with them, so a bridge whose last port was an orphan goes too.
 */
export async function removeOrphans(d: OrphanDeps, orphans: Orphan[]): Promise<Orphan[]> {
  const removed: Orphan[] = [];
  for (const o of orphans) {
    if (o.type === 'link' || o.type === 'ovs-bridge') {
      // Under its lock, only when still unused, marked and bare (a port plugged meanwhile keeps it).
      if (!(await d.owned?.release({ type: o.type, name: o.name }, { bare: true }))) continue;
      d.log.info({ orphan: o.name, type: o.type }, 'removed an orphan fleetnet made');
      removed.push(o);
      continue;
    }
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

/** Lifecycle passes in a row that may re-use the tagged-port list (WatchedOwnedPorts) before it is read again. */
export const OWNED_PORT_PASSES_BETWEEN_READS = 5;

/**
 * The tagged OVS ports for the lifecycle's orphan sweep, standing on the live OVSDB watch (the mesh's BFD watch of
 * the Interface table): the list last read is used again while the watch shows no interface added or removed since
 * that read began, up to OWNED_PORT_PASSES_BETWEEN_READS times in a row; with no live watch it is read every time.
 * A port made or deleted, by this agent or by hand, is an interface added or removed, so it is seen at the next
 * pass; a tag changed by hand on a port that stays waits for the next read. Which ports the records hold is
 * compared afresh at every pass (findOrphans), so records changing need no read. At 50 hosts the sweep's
 * `ovs-vsctl find` every 10 s on every host was most of the agents' spawns at rest.
 */
export class WatchedOwnedPorts {
  private last: { version: number; ports: OwnedPort[] } | undefined;
  private reused = 0;

  constructor(
    private readonly read: () => Promise<OwnedPort[]>,
    /** The watch's interfacesVersion (BfdWatch): undefined while it is not live. */
    private readonly version: () => number | undefined,
  ) {}

  async get(): Promise<OwnedPort[]> {
    const v = this.version();
    if (v !== undefined && this.last?.version === v && this.reused < OWNED_PORT_PASSES_BETWEEN_READS) {
      this.reused++;
      return this.last.ports;
    }
    this.last = undefined;
    this.reused = 0;
    const ports = await this.read(); // the version was taken before the read: a change during it is seen next time
    if (v !== undefined) this.last = { version: v, ports };
    return ports;
  }
}
