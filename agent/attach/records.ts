// What the agent made, kept on disk so that a restart knows it (state dir, one file per interface).
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { ContainerInfo } from '../containers/types.js';
import type { HostIfKind } from './order.js';

export interface RouteSnapshot {
  family: 4 | 6;
  gateway?: string;
  dev?: string;
}

export interface AttachmentRecord {
  key: string; // nsKey/ifname
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
}

/** Something on the host fleetnet owns: a link carrying the alias `fleetnet:owned`, or an OVS bridge with external_ids fleetnet=owned. */
export interface OwnedRef {
  type: 'link' | 'ovs-bridge';
  name: string;
}

export function recordKey(nsKey: string, ifname: string): string {
  return `${nsKey}/${ifname}`;
}

export class RecordStore {
  private readonly dir: string;
  private readonly byKey = new Map<string, AttachmentRecord>();

  constructor(stateDir: string) {
    this.dir = `${stateDir}/attachments`;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    for (const f of readdirSync(this.dir)) {
      if (!f.endsWith('.json')) continue;
      try {
        const r = JSON.parse(readFileSync(`${this.dir}/${f}`, 'utf8')) as AttachmentRecord;
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
  }

  delete(key: string): void {
    rmSync(this.file(key), { force: true });
    this.byKey.delete(key);
  }
}
