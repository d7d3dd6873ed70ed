// The one store interface. IPAM, MACs and orders are written against `Tx`, never against SQLite.
//
// A decision (reserve an address, record an attachment, bump a host's generation) runs as one
// `transact(fn)`: all of fn's reads and writes commit together or not at all. fn is synchronous
// and must have no side effects outside tx, because a backend may run it again: the SQLite backend
// runs it in a group-committed IMMEDIATE transaction (a second time, in a SAVEPOINT, when another
// decision of its group was refused) and resolves only after the COMMIT; an etcd backend (several controllers) runs it
// against a
// watch-fed mirror, commits with a compare on the revisions of every key it read, and re-runs it
// when another controller got there first (etcd's STM pattern).
import type { Logger } from 'pino';
import type { Trust } from '../pki/controller-dir.js';
import type { AttachmentFilter, AttachmentRecord, HostRecord, NetworkRecord } from './types.js';

export interface Tx {
  getHost(name: string): HostRecord | undefined;
  listHosts(): HostRecord[];
  putHost(h: HostRecord): void;
  deleteHost(name: string): void;

  getNetwork(name: string): NetworkRecord | undefined;
  listNetworks(): NetworkRecord[];
  putNetwork(n: NetworkRecord): void;
  deleteNetwork(name: string): void;

  getAttachment(id: string): AttachmentRecord | undefined;
  listAttachments(f?: AttachmentFilter): AttachmentRecord[];
  countAttachments(f?: AttachmentFilter): number;
  putAttachment(a: AttachmentRecord): void;
  deleteAttachment(id: string): void;

  /** Who holds an address in a network (canonical address text, no prefix). */
  addressHolder(net: string, addr: string): string | undefined;
  reserveAddress(net: string, addr: string, attachmentId: string): void;
  releaseAddress(net: string, addr: string): void;

  /** MAC scopes: 'fleet' for generated MACs, `net:<name>` for U: and explicit MACs of one layer-2 domain. */
  macHolder(scope: string, mac: string): string | undefined;
  reserveMac(scope: string, mac: string, attachmentId: string): void;
  releaseMac(scope: string, mac: string): void;

  /** Address blocks with an affinity: only on a store several controllers share (controller/ipam/blocks.ts). */
  readonly blocks?: BlockTx | undefined;
}

/**
 * A network's address blocks (CIDR text, `10.30.0.64/26`), each affine to the controller that claimed
 * it. A block only says where a controller looks first: the address keys alone keep addresses unique.
 */
export interface BlockTx {
  /** This controller: the affinity its claims record. */
  readonly self: string;
  /** The blocks of a network this controller holds, as the transaction sees them. */
  mine(net: string): string[];
  /** The controllers holding blocks of a network, as this controller last heard (a hint). */
  holders(net: string): string[];
  /** A block's holder, not compared at the commit (a hint). */
  holder(net: string, block: string): string | undefined;
  /** Claims an unclaimed block: compared as unclaimed at the commit; it lapses when this controller stops. */
  claim(net: string, block: string): void;
  /**
   * Whether nobody holds an address, not compared at the commit: skipping a taken address can miss
   * one freed meanwhile, never hand one out twice (reserveAddress compares the one it takes).
   */
  isFree(net: string, addr: string): boolean;
  /** Where this controller handed out its last address, per network and family (memory: where to look next). */
  readonly lastGiven: Map<string, bigint>;
  /**
   * A block (its name and the range searched in it) was found full: later searches skip it until an
   * address of its network is freed or the network changes. A hint: it may skip a block that has a
   * free address again (the whole range is searched before a pool is called exhausted), never give one twice.
   */
  knownFull(net: string, block: string): boolean;
  markFull(net: string, block: string): void;
}

export interface Store {
  /** What this store is, for logs and Health: `sqlite:/path`. */
  readonly description: string;
  transact<T>(fn: (tx: Tx) => T): Promise<T>;
  /** A consistent read-only view (no write may happen in fn). */
  read<T>(fn: (tx: Tx) => T): Promise<T>;
  /** The attachments as JSON text (one array), for the fast inventory path. */
  attachmentsJson(f?: AttachmentFilter): Promise<string>;
  /**
   * A number that changes (and never comes back) whenever an attachment of this host may have
   * changed: a full pass that finds it and its agent's report as a pass that had nothing to do left
   * them has nothing to do either. Undefined (or no method): every pass compares everything.
   */
  attachmentsVersion?(host: string): number | undefined;
  close(): void;
}

/** What another controller changed (SharedStore.onRemoteChange). */
export interface RemoteChange {
  kind: 'attachment' | 'host' | 'network';
  name: string;
  /** The attachment's host (as it was, for one removed); the host's own name. */
  host: string;
  /** An attachment was removed (not changed). */
  gone?: boolean;
  /**
   * A host record changed in its counters only (the generation an attachment change bumped, the observed
   * generation, the last contact): the attachment's own change says what to do, nothing else changed.
   */
  countersOnly?: boolean;
}

/**
 * A store several controllers share (etcd): what the others changed reaches this one, so its
 * dispatcher runs for the hosts it owns and its waiting requests hear about their attachments.
 */
export interface SharedStore {
  onRemoteChange(l: (c: RemoteChange) => void): void;
  /** Which hosts this controller dispatches to (each host owned by one live controller). */
  hostOwnership(log: Logger): HostOwnership;
  /** The trust folder's CA with what every controller must share (tokens, issued serials, revocations) in the store. */
  sharedTrust(t: Trust, log: Logger): Trust;
}

export interface HostOwnership {
  owns(host: string): boolean;
  /** Each claimed host's owner, the id of the controller that dispatches to it, as the store holds it now. */
  owners(): Promise<Map<string, string>>;
  /** Starts claiming hosts; `gained`/`lost` follow each change of what this controller owns. */
  start(on: { gained(host: string): void; lost(host: string): void }): Promise<void>;
  /** Gives every host up at once (a clean stop: the others take over without waiting for a lease). */
  stop(): Promise<void>;
}

export function isShared(s: Store): s is Store & SharedStore {
  return typeof (s as Partial<SharedStore>).onRemoteChange === 'function';
}
