// What the agent made, kept on disk so that a restart knows it (state dir, one file per interface).
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { ContainerInfo } from '../containers/types.js';
import type { HostIfKind } from './order.js';

export interface RouteSnapshot {
  family: 4 | 6;
  gateway?: string;
  dev?: string;
}

/** What a record says of its container now (kept on disk, so `ls` shows it across agent restarts). */
export type RecordState = 'up' | 'stopped' | 'failed';

export interface AttachmentRecord {
  key: string; // container identity/ifname (see identityOf)
  attachmentId: string;
  fingerprint: string;
  container: ContainerInfo;
  ifname: string;
  hostIfname: string; // host-side peer; '' when there is none
  hostIf: string;
  kind: HostIfKind;
  mac: string;
  addresses: string[];
  gateways: string[];
  mtu: number;
  vlan: string;
  /** fleetnet created the host interface (bridge) for this attachment. */
  createdHostIf: boolean;
  /** Host things fleetnet made (or found marked as its own) for this attachment; removed with the last user. */
  owned?: OwnedRef[];
  /** Linux bridge: the uplink that carries this attachment's VLAN tagged. */
  trunk?: string;
  /** macvlan/ipoib: the host interface the container's interface hangs off (e.g. `eth0.10`). */
  parent?: string;
  /** Default routes that an @gateway replaced, restored on detach. */
  replacedDefaults: RouteSnapshot[];
  createdAtMs: number;
  /** The order as asked, in its saved form: a container start re-applies it through the same attach path. */
  order?: SavedOrder;
  /** Absent in records written before lifecycle tracking: 'up'. */
  state?: RecordState;
  /** Re-apply attempts since the last success, the last error, and when the next may run (backoff). */
  attempts?: number;
  lastError?: string;
  nextRetryMs?: number;
}

/** An AttachOrder as JSON (addresses and MAC as the tokens they were parsed from). */
export interface SavedOrder {
  hostIf: string;
  kind?: HostIfKind;
  ifname: string;
  hostIfname?: string;
  addresses: string[];
  /** '' auto, `U:source`, or a MAC. */
  mac: string;
  id?: string;
  mtu?: number;
  attachmentId?: string;
  macvlanMode?: string;
  vlanFiltering?: boolean;
  trunk?: string;
  ovsDatapath?: 'system' | 'netdev';
  dhcpDns?: boolean;
  dhcpOneshot?: boolean;
  /** The controller frees the address and MAC when the container is removed, unless this is set. */
  keepAddress?: boolean;
}

/**
 * Something on the host fleetnet owns: a link carrying the alias `fleetnet:owned`, or an OVS bridge with external_ids
 * fleetnet=owned.
 */
export interface OwnedRef {
  type: 'link' | 'ovs-bridge';
  name: string;
}

/**
 * A container's identity across restarts: its Docker ID, LXC name, netns name or path, PID. The
 * namespace inode changes on every start, so it cannot key what must outlive one.
 */
export function identityOf(c: Pick<ContainerInfo, 'runtime' | 'id'>): string {
  return `${c.runtime}:${c.id}`;
}

export function recordKey(identity: string, ifname: string): string {
  return `${identity}/${ifname}`;
}

export function recordKeyOf(c: Pick<ContainerInfo, 'runtime' | 'id'>, ifname: string): string {
  return recordKey(identityOf(c), ifname);
}

export class RecordStore {
  private readonly dir: string;
  private readonly byKey = new Map<string, AttachmentRecord>();
  private readonly putListeners: ((r: AttachmentRecord) => void)[] = [];

  constructor(stateDir: string) {
    this.dir = `${stateDir}/attachments`;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    for (const f of readdirSync(this.dir)) {
      if (!f.endsWith('.json')) continue;
      try {
        const r = JSON.parse(readFileSync(`${this.dir}/${f}`, 'utf8')) as AttachmentRecord;
        const key = recordKeyOf(r.container, r.ifname);
        if (r.key !== key) {
          // Written when records were keyed by the namespace inode: re-keyed by the container's identity.
          rmSync(`${this.dir}/${f}`, { force: true });
          this.put({ ...r, key, attachmentId: r.attachmentId === r.key ? key : r.attachmentId });
          continue;
        }
        this.byKey.set(r.key, r);
      } catch {
        /* a torn write never happens (rename), but a hand-edited file must not stop the agent */
      }
    }
  }

  private file(key: string): string {
    return `${this.dir}/${key.replace(/[^A-Za-z0-9_.-]/g, '_')}.json`;
  }

  get(key: string): AttachmentRecord | undefined {
    return this.byKey.get(key);
  }

  all(): AttachmentRecord[] {
    return [...this.byKey.values()];
  }

  find(pred: (r: AttachmentRecord) => boolean): AttachmentRecord[] {
    return this.all().filter(pred);
  }

  put(r: AttachmentRecord): void {
    const f = this.file(r.key);
    writeFileSync(`${f}.tmp`, JSON.stringify(r, null, 1), { mode: 0o600 });
    renameSync(`${f}.tmp`, f);
    this.byKey.set(r.key, r);
    for (const fn of this.putListeners) fn(r);
  }

  /** `fn` hears of every record written from now on (the lifecycle follows LXC from the first LXC record). */
  onPut(fn: (r: AttachmentRecord) => void): void {
    this.putListeners.push(fn);
  }

  delete(key: string): void {
    rmSync(this.file(key), { force: true });
    this.byKey.delete(key);
  }
}
