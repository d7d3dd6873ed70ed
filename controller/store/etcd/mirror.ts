// The controller's copy of the store's data keys, fed by one etcd watch (and by this controller's
// own commits and refused compares, which carry newer values before the watch does). Each key
// keeps the revision it was last changed at; a change older than what is held is ignored, so the
// three feeds may arrive in any order. Deletions leave a tombstone until the watch has passed them.
// Attachments are indexed by host and network, and their public JSON (`ls --json`) is kept here.
import type { AttachmentRecord } from '../types.js';
import { attachmentView } from '../view.js';
import { ADDRS, ATTS, BLOCKS, HOSTS, NETS, nameOf } from './keys.js';

export interface Entry {
  v: string;
  mod: number;
}

/** A key changed: its new value (undefined: deleted), whether the watch brought it, and the value it had. */
export type ChangeListener = (key: string, value: string | undefined, fromWatch: boolean, old?: string) => void;

export class Mirror {
  private readonly entries = new Map<string, Entry>();
  private readonly tombs = new Map<string, number>();
  /** The highest revision the watch delivered. */
  watchRev = 0;
  readonly hostKeys = new Set<string>();
  readonly netKeys = new Set<string>();
  /** Attachment id → [host, net, view JSON]. */
  private readonly atts = new Map<string, [string, string, string]>();
  private readonly byHost = new Map<string, Set<string>>();
  private readonly byNet = new Map<string, Set<string>>();
  /** The inventory's JSON: whole, and per host (a change re-renders its host's part only). */
  private allJson: string | undefined;
  private readonly hostJson = new Map<string, string>();
  /** Host → the change count when one of its attachments last changed (attachmentsVersion). */
  private readonly hostVersions = new Map<string, number>();
  private changes = 0;
  /** Network → its address blocks → the controller each is affine to. */
  private readonly blocks = new Map<string, Map<string, string>>();
  /** Network → how often one of its addresses was freed or its record changed (blocks known full: overlay-tx.ts). */
  private readonly frees = new Map<string, number>();
  private readonly listeners: ChangeListener[] = [];

  get(key: string): Entry | undefined {
    return this.entries.get(key);
  }

  onChange(l: ChangeListener): void {
    this.listeners.push(l);
  }

  /** Whether a change of `key` at revision `mod` is newer than what is held (apply would take it). */
  isNewer(key: string, mod: number): boolean {
    return mod > (this.entries.get(key)?.mod ?? this.tombs.get(key) ?? 0);
  }

  /** A value at revision `mod` (undefined: deleted at `mod`); false when what is held is as new or newer. */
  apply(key: string, v: string | undefined, mod: number, fromWatch = false): boolean {
    const cur = this.entries.get(key);
    const held = cur?.mod ?? this.tombs.get(key) ?? 0;
    if (mod <= held) return false;
    if (v === undefined) {
      if (!cur) return false;
      this.entries.delete(key);
      this.tombs.set(key, mod);
    } else {
      this.tombs.delete(key);
      this.entries.set(key, { v, mod });
    }
    this.index(key, v);
    for (const l of this.listeners) l(key, v, fromWatch, cur?.v);
    return true;
  }

  /** The watch is at `rev`: tombstones at or below it can go (nothing older can arrive any more). */
  watchedTo(rev: number): void {
    if (rev > this.watchRev) this.watchRev = rev;
    if (this.tombs.size > 1024) for (const [k, r] of this.tombs) if (r <= this.watchRev) this.tombs.delete(k);
  }

  private index(key: string, v: string | undefined): void {
    if (key.startsWith(HOSTS)) {
      if (v === undefined) this.hostKeys.delete(key);
      else this.hostKeys.add(key);
    } else if (key.startsWith(NETS)) {
      if (v === undefined) this.netKeys.delete(key);
      else this.netKeys.add(key);
      this.freed(nameOf(key, NETS));
    } else if (key.startsWith(ADDRS)) {
      if (v === undefined) this.freed(decodeURIComponent(key.slice(ADDRS.length, key.indexOf('/', ADDRS.length))));
    } else if (key.startsWith(BLOCKS)) {
      const rest = key.slice(BLOCKS.length);
      const net = decodeURIComponent(rest.slice(0, rest.indexOf('/')));
      const block = decodeURIComponent(rest.slice(rest.indexOf('/') + 1));
      let m = this.blocks.get(net);
      if (!m) this.blocks.set(net, (m = new Map()));
      if (v === undefined) m.delete(block);
      else m.set(block, v);
    } else if (key.startsWith(ATTS)) {
      const id = nameOf(key, ATTS);
      const old = this.atts.get(id);
      if (old) {
        this.hostVersions.set(old[0], ++this.changes);
        this.byHost.get(old[0])?.delete(id);
        this.byNet.get(old[1])?.delete(id);
        this.atts.delete(id);
        this.hostJson.delete(old[0]);
      }
      this.allJson = undefined;
      if (v === undefined) return;
      const a = JSON.parse(v) as AttachmentRecord;
      this.hostJson.delete(a.host);
      this.hostVersions.set(a.host, ++this.changes);
      this.atts.set(id, [a.host, a.net, JSON.stringify(attachmentView(a))]);
      addTo(this.byHost, a.host, id);
      addTo(this.byNet, a.net, id);
    }
  }

  private freed(net: string): void {
    this.frees.set(net, (this.frees.get(net) ?? 0) + 1);
  }

  /** Changes whenever an address of the network is freed or its record changes. */
  freesOf(net: string): number {
    return this.frees.get(net) ?? 0;
  }

  /** The host of an attachment the mirror holds. */
  attachmentHost(id: string): string | undefined {
    return this.atts.get(id)?.[0];
  }

  /** Changes whenever an attachment of this host changed here (Store.attachmentsVersion). */
  attachmentsVersion(host: string): number {
    return this.hostVersions.get(host) ?? 0;
  }

  /** A network's address blocks and who holds each. */
  blocksOf(net: string): ReadonlyMap<string, string> {
    return this.blocks.get(net) ?? new Map<string, string>();
  }

  /** Attachment ids, by host then id (the SQLite store's order). */
  attachmentIds(f?: { host?: string; net?: string }): string[] {
    let ids: Iterable<string>;
    if (f?.host) ids = this.byHost.get(f.host) ?? [];
    else if (f?.net) ids = this.byNet.get(f.net) ?? [];
    else ids = this.atts.keys();
    const out: string[] = [];
    for (const id of ids) {
      const a = this.atts.get(id)!;
      if ((!f?.host || a[0] === f.host) && (!f?.net || a[1] === f.net)) out.push(id);
    }
    return out.sort((x, y) => this.compareAtts(x, y));
  }

  private compareAtts(x: string, y: string): number {
    const hx = this.atts.get(x)![0];
    const hy = this.atts.get(y)![0];
    return hx < hy ? -1 : hx > hy ? 1 : x < y ? -1 : x > y ? 1 : 0;
  }

  countAttachments(f?: { host?: string; net?: string }): number {
    if (f?.host && !f.net) return this.byHost.get(f.host)?.size ?? 0;
    if (f?.net && !f.host) return this.byNet.get(f.net)?.size ?? 0;
    if (!f?.host && !f?.net) return this.atts.size;
    return this.attachmentIds(f).length;
  }

  /**
   * The public JSON of the attachments, by host then id. The whole inventory's text is the same
   * string until an attachment changes, and then only the changed hosts' parts are rendered again.
   */
  attachmentsJson(f?: { host?: string; net?: string }): string {
    if (f?.net)
      return `[${this.attachmentIds(f)
        .map((id) => this.atts.get(id)![2])
        .join(',')}]`;
    if (f?.host) return `[${this.hostPart(f.host)}]`;
    this.allJson ??= `[${[...this.byHost.keys()]
      .sort()
      .map((h) => this.hostPart(h))
      .filter((p) => p !== '')
      .join(',')}]`;
    return this.allJson;
  }

  /** One host's attachments' JSON, by id, without the brackets. */
  private hostPart(host: string): string {
    const ids = this.byHost.get(host);
    if (!ids) return '';
    let part = this.hostJson.get(host);
    if (part === undefined) {
      part = [...ids]
        .sort()
        .map((id) => this.atts.get(id)![2])
        .join(',');
      this.hostJson.set(host, part);
    }
    return part;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Every data key and value (migration, verification). */
  *all(): IterableIterator<[string, Entry]> {
    yield* this.entries;
  }
}

function addTo(m: Map<string, Set<string>>, k: string, id: string): void {
  let s = m.get(k);
  if (!s) m.set(k, (s = new Set()));
  s.add(id);
}
