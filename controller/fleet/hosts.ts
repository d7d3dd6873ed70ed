// Host registration: a running agent, known by its TCP address and underlay IPv4.
import { conflict, invalid, notFound } from '../../common/errors.js';
import { parseAddr } from '../../common/ip.js';
import { releaseHoldings } from '../mac/allocate.js';
import type { Tx } from '../store/store.js';
import type { HostRecord } from '../store/types.js';

export const DEFAULT_AGENT_PORT = 7441;
const HOST_RE = /^[a-z0-9][a-z0-9.-]{0,62}$/i;

export function parseHostName(name: string): string {
  if (!HOST_RE.test(name))
    throw invalid(`host name '${name}' is not valid`, 'use letters, digits, . and -, up to 63 characters');
  return name;
}

/** `IP`, `IP:PORT`, `[v6]:PORT` → normalised `ADDR:PORT` and the IP. */
export function parseAgentAddr(s: string): { addr: string; ip: string } {
  let host = s;
  let port = DEFAULT_AGENT_PORT;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (v6) {
    host = v6[1]!;
    if (v6[2]) port = Number(v6[2]);
  } else if ((s.match(/:/g) ?? []).length === 1) {
    const [h, p] = s.split(':') as [string, string];
    host = h;
    if (!/^\d{1,5}$/.test(p)) throw invalid(`port '${p}' in '${s}' is not a number`);
    port = Number(p);
  }
  const ip = parseAddr(host, 'agent address');
  if (port < 1 || port > 65535) throw invalid(`port ${port} in '${s}' is out of range (1-65535)`);
  return { addr: ip.family === 6 ? `[${ip.text}]:${port}` : `${ip.text}:${port}`, ip: ip.text };
}

export function addHost(
  tx: Tx,
  i: { name: string; agentAddr: string; underlayIp?: string },
  nowMs: number,
): { host: HostRecord; created: boolean } {
  const name = parseHostName(i.name);
  const { addr, ip } = parseAgentAddr(i.agentAddr);
  const underlay = parseAddr(i.underlayIp || ip, 'underlay address');
  if (underlay.family !== 4)
    throw invalid(
      `underlay address ${underlay.text} is not IPv4`,
      "give --underlay with the host's IPv4 address (its MACs are derived from it)",
    );
  const existing = tx.getHost(name);
  if (existing) {
    if (existing.agentAddr === addr && existing.underlayIp === underlay.text) return { host: existing, created: false };
    throw conflict(
      `host ${name} is already registered at ${existing.agentAddr}`,
      `remove it first: fleetnet host rm ${name}`,
    );
  }
  const clash = tx.listHosts().find((h) => h.agentAddr === addr || h.underlayIp === underlay.text);
  if (clash)
    throw conflict(
      `${clash.name} is already registered with ${clash.agentAddr} (underlay ${clash.underlayIp})`,
      'each host has its own address',
    );
  const host: HostRecord = {
    name,
    agentAddr: addr,
    underlayIp: underlay.text,
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

export function removeHost(tx: Tx, name: string, force: boolean): boolean {
  if (!tx.getHost(name)) throw notFound(`no host named ${name}`, 'see the registered hosts with: fleetnet hosts');
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
