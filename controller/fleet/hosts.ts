// Host registration: a running agent, known by its TCP address and underlay IPv4.
import { conflict, notFound } from '../../common/errors.js';
import { checkHostInput } from '../../common/host-spec.js';
import { releaseHoldings } from '../mac/allocate.js';
import type { Tx } from '../store/store.js';
import type { HostRecord } from '../store/types.js';

/**
 * `newName`: a stricter check of the name of a host not yet registered (a controller with a CA: the name must be
 * one a host certificate can carry, parseHostId, or the host could never enrol); one already registered under that
 * name and address is found again whatever its name.
 */
export function addHost(
  tx: Tx,
  i: { name: string; agentAddr: string; underlayIp?: string },
  nowMs: number,
  newName?: (name: string) => void,
): { host: HostRecord; created: boolean } {
  const { name, addr, underlay } = checkHostInput(i);
  const existing = tx.getHost(name);
  if (existing) {
    if (existing.agentAddr === addr && existing.underlayIp === underlay) return { host: existing, created: false };
    throw conflict(
      `host ${name} is already registered at ${existing.agentAddr}`,
      `remove it first: fleetnet host rm ${name}`,
    );
  }
  newName?.(name);
  const clash = tx.listHosts().find((h) => h.agentAddr === addr || h.underlayIp === underlay);
  if (clash)
    throw conflict(
      `${clash.name} is already registered with ${clash.agentAddr} (underlay ${clash.underlayIp})`,
      'each host has its own address',
    );
  const host: HostRecord = {
    name,
    agentAddr: addr,
    underlayIp: underlay,
    state: 'unknown',
    lastSeenMs: 0,
    agentVersion: '',
    capabilities: [],
    generation: 0,
    observedGeneration: 0,
    lastError: '',
    addedMs: nowMs,
  };
  tx.putHost(host);
  return { host, created: true };
}

/** The refusal for a host name nobody registered. */
export const noSuchHost = (name: string) =>
  notFound(`no host named ${name}`, 'see the registered hosts with: fleetnet hosts');

export function removeHost(tx: Tx, name: string, force: boolean): boolean {
  if (!tx.getHost(name)) throw noSuchHost(name);
  const atts = tx.listAttachments({ host: name });
  if (atts.length && !force) {
    throw conflict(
      `host ${name} still has ${atts.length} attachment(s)`,
      `detach them first, or forget them with: fleetnet host rm ${name} --force`,
    );
  }
  for (const a of atts) {
    releaseHoldings(tx, a);
    tx.deleteAttachment(a.id);
  }
  tx.deleteHost(name);
  return true;
}

/**
 * A removed host also leaves every mesh it was in (a host added again under the same name joins
 * only what it is told to); returns the remaining members, whose tunnels to it must go.
 */
export function leaveMeshes(tx: Tx, name: string): string[] {
  const peers = new Set<string>();
  for (const n of tx.listNetworks()) {
    if (!n.mesh?.members.includes(name)) continue;
    const members = n.mesh.members.filter((m) => m !== name);
    tx.putNetwork({ ...n, mesh: { ...n.mesh, members } });
    for (const m of members) peers.add(m);
  }
  return [...peers].sort();
}

export function getHostOrThrow(tx: Tx, name: string): HostRecord {
  const h = tx.getHost(name);
  if (!h) throw notFound(`no host named ${name}`, `register it with: fleetnet host add ${name} --addr IP[:PORT]`);
  return h;
}
