// Attach and detach as decisions over one Tx: reserve addresses and a MAC, record the attachment in
// the host's desired state with a new generation. The dispatcher carries it to the agent.
import { createHash } from 'node:crypto';
import { fleetFingerprint, type AddressSpec, type MacSpec, type TargetRef } from '../../common/attach/index.js';
import { conflict, FleetnetError, invalid } from '../../common/errors.js';
import type { Family } from '../../common/ip.js';
import { allocateNext, networkForAddress, reserveStatic, subnetsOf } from '../ipam/allocate.js';
import { parseNetworkName } from '../../common/network-spec.js';
import { allocateMac, releaseHoldings, type RandomSource } from '../mac/allocate.js';
import type { Tx } from '../store/store.js';
import type { AttachmentRecord, HostRecord, NetworkRecord } from '../store/types.js';
import { getHostOrThrow } from './hosts.js';
import { meshMtu } from '../mesh/fleet-mesh.js';
import { isNamedBy } from './named-by.js';

export const ATTACHMENT_ID_PREFIX = 'fa-';

export interface FleetAttachInput {
  host: string;
  net?: string;
  target: TargetRef;
  ifname: string;
  /** Empty with a network: one address allocated per subnet family. */
  addresses: AddressSpec[];
  mac: MacSpec;
  vlan?: string;
  mtu?: number;
  /** A client-chosen id; default derived from host, target and ifname. */
  id?: string;
  keepAddress?: boolean;
  fromLabels?: boolean;
  /** Hold the addresses and MAC only (CNI IPAM): up at once, nothing for the agent to make. */
  reserveOnly?: boolean;
}

/** The attachment id of (host, container, ifname): a retry of the same attach finds the same record. */
export function attachmentIdOf(host: string, target: TargetRef, ifname: string): string {
  const h = createHash('sha256').update([host, target.kind, target.value, ifname].join('\0')).digest('hex');
  return `${ATTACHMENT_ID_PREFIX}${h.slice(0, 20)}`;
}

/** Bumps the host's desired-state generation and returns the new one. */
export function bumpGeneration(tx: Tx, host: HostRecord): number {
  host.generation += 1;
  tx.putHost(host);
  return host.generation;
}

function chooseNetwork(tx: Tx, i: FleetAttachInput): NetworkRecord {
  const statics = i.addresses.filter((a) => a.kind === 'static');
  if (i.net) {
    const n = tx.getNetwork(parseNetworkName(i.net));
    if (!n) throw invalid(`no network named ${i.net}`, 'see them with: fleetnet nets');
    return n;
  }
  if (!statics.length) throw invalid('no network given', 'give an address inside a network, or --net NAME');
  const nets = statics.map((a) => networkForAddress(tx, a.cidr.addr));
  const names = [...new Set(nets.map((n) => n.name))];
  if (names.length > 1)
    throw invalid(
      `the addresses are in different networks (${names.join(', ')})`,
      'one attachment joins one network; attach twice with -i',
    );
  return nets[0]!;
}

export interface AttachDecision {
  attachment: AttachmentRecord;
  created: boolean;
  /** The host's generation changed: the dispatcher should run for it. */
  changed: boolean;
}

export function decideAttach(tx: Tx, i: FleetAttachInput, nowMs: number, rand?: RandomSource): AttachDecision {
  const host = getHostOrThrow(tx, i.host);
  const net = chooseNetwork(tx, i);
  const id = i.id ?? attachmentIdOf(host.name, i.target, i.ifname);
  const fp = fleetFingerprint(i, net.name);
  const existing = tx.getAttachment(id);
  if (existing) {
    if (existing.host !== host.name || existing.requestFp !== fp || !!existing.reserveOnly !== !!i.reserveOnly) {
      throw conflict(
        `${existing.target.value} (${existing.ifname}) on host ${existing.host} is already attached with other ` +
          `settings (${existing.net}, ${addressesText(existing)}, ${existing.mac})`,
        `detach it first: fleetnet detach --host ${existing.host} ${existing.target.value} -i ${existing.ifname}`,
      );
    }
    if (existing.desired === 'present' && existing.state !== 'failed')
      return { attachment: existing, created: false, changed: false };
    // Re-asked after a failure, or while its detach was still pending: present again, new generation.
    setDesired(tx, host, existing, 'present', nowMs);
    return { attachment: existing, created: false, changed: true };
  }
  if (i.id !== undefined) {
    const same = tx
      .listAttachments({ host: host.name })
      .find((a) => a.ifname === i.ifname && a.target.kind === i.target.kind && a.target.value === i.target.value);
    if (same)
      throw conflict(
        `${i.target.value} already has ${i.ifname} on ${host.name} as attachment ${same.id}`,
        'use that attachment id, or another -i',
      );
  }

  const addresses: AttachmentRecord['addresses'] = [];
  const statics = i.addresses.filter((a): a is Extract<AddressSpec, { kind: 'static' }> => a.kind === 'static');
  const other = i.addresses.filter((a): a is Exclude<AddressSpec, { kind: 'static' }> => a.kind !== 'static');
  if (i.addresses.length === 0) {
    const subnets = subnetsOf(net);
    const families = [...new Set(subnets.map((s) => s.addr.family))] as Family[];
    for (const f of families) addresses.push({ cidr: allocateNext(tx, net, f, id, subnets).text });
    tx.putNetwork(net); // the allocation cursor moved
  } else {
    for (const a of statics) {
      reserveStatic(tx, net, a.cidr, id);
      addresses.push({ cidr: a.cidr.text, ...(a.gateway ? { gateway: a.gateway.text } : {}) });
    }
  }
  const mac = allocateMac(tx, { net: net.name, underlayIp: host.underlayIp, spec: i.mac, owner: id }, rand);
  // A reservation changes nothing on the host: its generation stays, and no agent is asked.
  const generation = i.reserveOnly ? host.generation : bumpGeneration(tx, host);
  const attachment: AttachmentRecord = {
    id,
    host: host.name,
    net: net.name,
    target: i.target,
    ifname: i.ifname,
    hostIf: net.kind === 'macvlan' ? net.parents[host.name] || net.parent : net.bridge,
    kind: net.kind,
    mac: mac.mac,
    macScheme: mac.scheme,
    macSource: mac.source,
    addresses,
    other,
    vlan: i.vlan ?? (net.vlan ? String(net.vlan) : ''),
    mtu: i.mtu || net.mtu || meshMtu(net),
    desired: 'present',
    state: i.reserveOnly ? 'up' : 'pending',
    error: '',
    generation,
    hostIfname: '',
    reportedAddresses: [],
    requestFp: fp,
    createdMs: nowMs,
    updatedMs: nowMs,
    ...(i.keepAddress ? { keepAddress: true } : {}),
    ...(i.fromLabels ? { fromLabels: true } : {}),
    ...(i.reserveOnly ? { reserveOnly: true } : {}),
  };
  tx.putAttachment(attachment);
  return { attachment, created: true, changed: !i.reserveOnly };
}

export interface DetachDecision {
  attachment?: AttachmentRecord;
  changed: boolean;
  /** Released already (a reservation): nothing to wait for. */
  gone?: boolean;
}

export function decideDetach(
  tx: Tx,
  i: { id?: string; host?: string; target?: TargetRef; ifname?: string },
  nowMs: number,
): DetachDecision {
  let a: AttachmentRecord | undefined;
  if (i.id) {
    a = tx.getAttachment(i.id);
    // A host acting for itself (its certificate named in `host`) detaches its own attachments only.
    if (a && i.host && a.host !== i.host) {
      const hint = 'a host detaches its own attachments only';
      throw new FleetnetError('permission', `attachment ${i.id} is on host ${a.host}, not ${i.host}`, { hint });
    }
  } else {
    if (!i.host || !i.target)
      throw invalid('say which attachment to detach', 'give --host H CONTAINER [-i IF], or an attachment id');
    const host = getHostOrThrow(tx, i.host);
    const ifname = i.ifname || 'eth1';
    a = tx.getAttachment(attachmentIdOf(host.name, i.target, ifname));
    // Also by another form of it, or the name or ID the agent resolved (as inspect finds it).
    a ??= tx.listAttachments({ host: host.name }).find((x) => x.ifname === ifname && isNamedBy(x, i.target!));
  }
  if (!a) return { changed: false };
  if (a.reserveOnly) {
    // Nothing on any host to remove: the addresses and MAC are free at once.
    releaseHoldings(tx, a);
    tx.deleteAttachment(a.id);
    return { attachment: a, changed: false, gone: true };
  }
  if (a.desired === 'absent') return { attachment: a, changed: false };
  const host = tx.getHost(a.host)!;
  setDesired(tx, host, a, 'absent', nowMs);
  return { attachment: a, changed: true };
}

/** A new desired state for an attachment: the host's next generation, the agent to act on it. */
function setDesired(tx: Tx, host: HostRecord, a: AttachmentRecord, desired: 'present' | 'absent', nowMs: number): void {
  a.desired = desired;
  a.state = desired === 'present' ? 'pending' : 'detaching';
  a.error = '';
  a.attempts = 0;
  a.nextRetryMs = 0;
  a.generation = bumpGeneration(tx, host);
  a.updatedMs = nowMs;
  tx.putAttachment(a);
}

/** The agent confirmed the interface is gone (or it never existed): forget it, free its addresses and MAC. */
export function finishDetach(tx: Tx, id: string, generation: number): boolean {
  const a = tx.getAttachment(id);
  if (!a || a.desired !== 'absent' || a.generation !== generation) return false;
  releaseHoldings(tx, a);
  tx.deleteAttachment(id);
  return true;
}

export interface AgentReport {
  mac: string;
  addresses: string[];
  hostIfname: string;
  /** The container interface's MTU as made (absent or 0: not reported). */
  mtu?: number;
  container?: AttachmentRecord['container'];
}

/** The agent made it as asked: mark it up, unless a newer generation changed it meanwhile. */
export function markUp(
  tx: Tx,
  id: string,
  generation: number,
  r: AgentReport,
  nowMs: number,
): AttachmentRecord | undefined {
  const a = tx.getAttachment(id);
  if (!a || a.desired !== 'present' || a.generation !== generation) return undefined;
  a.state = 'up';
  a.error = '';
  a.attempts = 0;
  a.nextRetryMs = 0;
  a.hostIfname = r.hostIfname;
  a.reportedAddresses = r.addresses.filter((x) => !a.addresses.some((s) => s.cidr === x));
  if (r.mtu) a.reportedMtu = r.mtu;
  if (r.container) a.container = r.container;
  a.updatedMs = nowMs;
  tx.putAttachment(a);
  return a;
}

/** The longest wait between retries of a failed attachment. */
export const MAX_RETRY_MS = 60_000;

/** Backoff between retries of a failed attachment: 1 s, 2 s, 4 s … at most a minute. */
export function retryDelayMs(attempts: number): number {
  return Math.min(MAX_RETRY_MS, 1000 * 2 ** Math.max(0, attempts - 1));
}

/** delayMs: the wait before the next retry instead of the backoff (an error no early retry mends). */
export function markFailed(
  tx: Tx,
  id: string,
  generation: number,
  error: string,
  nowMs: number,
  attempts?: number,
  delayMs?: number,
): AttachmentRecord | undefined {
  const a = tx.getAttachment(id);
  if (!a || a.desired !== 'present' || a.generation !== generation) return undefined;
  a.state = 'failed';
  a.error = error;
  a.attempts = attempts ?? (a.attempts ?? 0) + 1;
  a.nextRetryMs = nowMs + (delayMs ?? retryDelayMs(a.attempts));
  a.updatedMs = nowMs;
  tx.putAttachment(a);
  return a;
}

/** The container is stopped: its addresses stay reserved for it; `ls` shows `stopped`. */
export function markStopped(
  tx: Tx,
  id: string,
  generation: number,
  nowMs: number,
  note = '',
): AttachmentRecord | undefined {
  const a = tx.getAttachment(id);
  if (!a || a.desired !== 'present' || a.generation !== generation) return undefined;
  if (a.state === 'stopped' && a.error === note) return a;
  a.state = 'stopped';
  a.error = note;
  a.updatedMs = nowMs;
  tx.putAttachment(a);
  return a;
}

/**
 * The host's agent stopped answering: its settled attachments show `unreachable` (not `up`); their
 * addresses and MACs stay held, and nothing changes on the host. Pending and detaching ones keep
 * their state (the order is still to be carried out); refused label attachments keep their error.
 */
export function markHostUnreachable(tx: Tx, host: string, why: string, nowMs: number): number {
  let n = 0;
  for (const a of tx.listAttachments({ host })) {
    if (a.desired !== 'present' || a.labelRefused || !['up', 'stopped', 'failed'].includes(a.state)) continue;
    a.state = 'unreachable';
    a.error = why ? `agent unreachable: ${why}` : 'agent unreachable';
    a.updatedMs = nowMs;
    tx.putAttachment(a);
    n++;
  }
  return n;
}

/**
 * The container is gone for good (its agent cannot find it any more): the attachment goes and its
 * address and MAC are freed — unless it was made with --keep-address, which keeps them (stopped).
 */
export function containerRemoved(
  tx: Tx,
  id: string,
  generation: number,
  nowMs: number,
): 'released' | 'kept' | undefined {
  const a = tx.getAttachment(id);
  if (!a || a.generation !== generation) return undefined;
  if (a.keepAddress && a.desired === 'present') {
    markStopped(tx, id, generation, nowMs, 'container removed; address and MAC kept (--keep-address)');
    return 'kept';
  }
  releaseHoldings(tx, a);
  tx.deleteAttachment(id);
  const host = tx.getHost(a.host);
  if (host) bumpGeneration(tx, host);
  return 'released';
}

function addressesText(a: AttachmentRecord): string {
  return a.addresses.map((x) => x.cidr).join(' ') || 'no address';
}
