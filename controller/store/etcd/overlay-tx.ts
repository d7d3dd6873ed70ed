// A Tx over the mirror: reads come from this decision's own writes, then its group's, then the
// mirror; every key read from the mirror is remembered with the revision it had (0: absent), and
// the commit compares them all (etcd's STM, optimistic). A list remembers its collection's epoch
// key (keys.ts), and the revision of each record it returned: when such a record is then written,
// its revision is compared too, so a record cannot be overwritten with a stale copy.
import { FleetnetError, conflict } from '../../../common/errors.js';
import type { BlockTx, Tx } from '../store.js';
import type { AttachmentFilter, AttachmentRecord, HostRecord, NetworkRecord } from '../types.js';
import { ATTS, HOSTS, NETS, keys } from './keys.js';
import type { Mirror } from './mirror.js';

/** What a controller's transactions need for address blocks: who it is, where it handed out last. */
export interface BlockContext {
  self: string;
  lastGiven: Map<string, bigint>;
  /** Network → block → the network's free count (Mirror.freesOf) when the block was found full. */
  full: Map<string, Map<string, number>>;
}

export class OverlayTx implements Tx {
  /** key → the revision it had when first read (0: absent): compared at the commit. */
  readonly reads = new Map<string, number>();
  /** key → the revision of a record a list returned: compared only if the record is written. */
  readonly seen = new Map<string, number>();
  /** key → new value (undefined: delete). */
  readonly writes = new Map<string, string | undefined>();

  readonly blocks: BlockTx | undefined;

  constructor(
    private readonly m: Mirror,
    private readonly parent?: OverlayTx,
    private readonly readOnly = false,
    ctx?: BlockContext,
  ) {
    const c = ctx ?? parent?.blockCtx;
    this.blockCtx = readOnly ? undefined : c;
    this.blocks = this.blockCtx && this.blockTx(this.blockCtx);
  }

  private readonly blockCtx: BlockContext | undefined;

  /** This decision's changes become its group's. */
  mergeInto(p: OverlayTx): void {
    for (const [k, r] of this.reads) if (!p.reads.has(k)) p.reads.set(k, r);
    for (const [k, r] of this.seen) if (!p.seen.has(k)) p.seen.set(k, r);
    for (const [k, v] of this.writes) p.writes.set(k, v);
  }

  private written(key: string): { v: string | undefined } | undefined {
    if (this.writes.has(key)) return { v: this.writes.get(key) };
    return this.parent?.written(key);
  }

  private hasRead(key: string): boolean {
    return this.reads.has(key) || (this.parent?.hasRead(key) ?? false);
  }

  private seenMod(key: string): number | undefined {
    return this.seen.get(key) ?? this.parent?.seenMod(key);
  }

  /** The value as this decision sees it, without remembering the read. */
  private peek(key: string): string | undefined {
    const w = this.written(key);
    return w ? w.v : this.m.get(key)?.v;
  }

  private get(key: string): string | undefined {
    const w = this.written(key);
    if (w) return w.v;
    const e = this.m.get(key);
    if (!this.readOnly && !this.hasRead(key)) this.reads.set(key, e?.mod ?? 0);
    return e?.v;
  }

  private put(key: string, v: string | undefined): void {
    if (this.readOnly) throw new FleetnetError('failed', 'a write inside a read-only view of the store');
    if (!this.hasRead(key) && !this.written(key)) {
      const s = this.seenMod(key);
      if (s !== undefined) this.reads.set(key, s);
    }
    this.writes.set(key, v);
  }

  /** A list: the collection's epoch is compared; each record's revision is remembered. */
  private list(keysInMirror: Iterable<string>, prefix: string, epoch: string): string[] {
    this.get(epoch);
    const out = new Set<string>();
    for (const k of keysInMirror) out.add(k);
    for (let t: OverlayTx | undefined = this; t; t = t.parent) {
      for (const [k, v] of t.writes) {
        if (!k.startsWith(prefix)) continue;
        if (v === undefined) out.delete(k);
        else out.add(k);
      }
    }
    const values: string[] = [];
    for (const k of out) {
      const v = this.peek(k);
      if (v === undefined) continue;
      const e = this.m.get(k);
      if (!this.readOnly && e && !this.written(k) && this.seenMod(k) === undefined) this.seen.set(k, e.mod);
      values.push(v);
    }
    return values;
  }

  private bump(epoch: string): void {
    if (!this.readOnly) this.writes.set(epoch, '');
  }

  getHost(name: string): HostRecord | undefined {
    return parse<HostRecord>(this.get(keys.host(name)));
  }
  listHosts(): HostRecord[] {
    return this.list(this.m.hostKeys, HOSTS, keys.epochHosts)
      .map((v) => JSON.parse(v) as HostRecord)
      .sort(byName);
  }
  putHost(h: HostRecord): void {
    const k = keys.host(h.name);
    if (this.peek(k) === undefined) this.bump(keys.epochHosts);
    this.put(k, JSON.stringify(h));
  }
  deleteHost(name: string): void {
    const k = keys.host(name);
    if (this.peek(k) === undefined) return;
    this.bump(keys.epochHosts);
    this.put(k, undefined);
  }

  // A network's allocation cursors (where the next search starts) live in their own key, written
  // without a compare: every allocation moves them, and were they in the network's record, every two
  // allocations in one network through two controllers would conflict on it. A stale cursor costs a
  // probe, never a duplicate: each address is its own compared key.
  private withCursors(n: NetworkRecord | undefined): NetworkRecord | undefined {
    const c = n && this.peek(keys.cursor(n.name));
    return n && c !== undefined ? { ...n, cursors: JSON.parse(c) as NetworkRecord['cursors'] } : n;
  }
  getNetwork(name: string): NetworkRecord | undefined {
    return this.withCursors(parse<NetworkRecord>(this.get(keys.net(name))));
  }
  listNetworks(): NetworkRecord[] {
    return this.list(this.m.netKeys, NETS, keys.epochNets)
      .map((v) => this.withCursors(JSON.parse(v) as NetworkRecord)!)
      .sort(byName);
  }
  putNetwork(n: NetworkRecord): void {
    const k = keys.net(n.name);
    const stored = parse<NetworkRecord>(this.peek(k));
    if (stored === undefined) this.bump(keys.epochNets);
    // Unmoved cursors (an allocation from a block this controller holds) cost no write.
    const cursors = JSON.stringify(n.cursors);
    if (!this.readOnly && this.peek(keys.cursor(n.name)) !== cursors) this.writes.set(keys.cursor(n.name), cursors);
    // Only the cursors moved: the record itself stays as it is (and uncompared by this write).
    if (stored && JSON.stringify({ ...stored, cursors: n.cursors }) === JSON.stringify(n)) return;
    this.put(k, JSON.stringify(n));
  }
  deleteNetwork(name: string): void {
    const k = keys.net(name);
    if (this.peek(k) === undefined) return;
    this.bump(keys.epochNets);
    this.put(k, undefined);
    if (this.peek(keys.cursor(name)) !== undefined) this.writes.set(keys.cursor(name), undefined);
    // Its blocks go with it (hints only: nothing compares them away).
    if (!this.readOnly)
      for (const block of this.m.blocksOf(name).keys()) this.writes.set(keys.block(name, block), undefined);
  }

  getAttachment(id: string): AttachmentRecord | undefined {
    return parse<AttachmentRecord>(this.get(keys.att(id)));
  }
  listAttachments(f?: AttachmentFilter): AttachmentRecord[] {
    const epoch = f?.host ? keys.epochAttsOfHost(f.host) : f?.net ? keys.epochAttsOfNet(f.net) : keys.epochAtts;
    const inMirror = this.m.attachmentIds(f).map((id) => keys.att(id));
    return this.list(inMirror, ATTS, epoch)
      .map((v) => JSON.parse(v) as AttachmentRecord)
      .filter((a) => (!f?.host || a.host === f.host) && (!f?.net || a.net === f.net))
      .sort((x, y) => (x.host < y.host ? -1 : x.host > y.host ? 1 : x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
  }
  countAttachments(f?: AttachmentFilter): number {
    if (this.readOnly) return this.m.countAttachments(f);
    return this.listAttachments(f).length;
  }
  putAttachment(a: AttachmentRecord): void {
    const k = keys.att(a.id);
    const old = parse<AttachmentRecord>(this.peek(k));
    if (!old || old.host !== a.host || old.net !== a.net) {
      this.bump(keys.epochAtts);
      this.bump(keys.epochAttsOfHost(a.host));
      this.bump(keys.epochAttsOfNet(a.net));
      if (old) {
        this.bump(keys.epochAttsOfHost(old.host));
        this.bump(keys.epochAttsOfNet(old.net));
      }
    }
    this.put(k, JSON.stringify(a));
  }
  deleteAttachment(id: string): void {
    const k = keys.att(id);
    const old = parse<AttachmentRecord>(this.peek(k));
    if (!old) return;
    this.bump(keys.epochAtts);
    this.bump(keys.epochAttsOfHost(old.host));
    this.bump(keys.epochAttsOfNet(old.net));
    this.put(k, undefined);
  }

  /** Address blocks (controller/ipam/blocks.ts): holders are read as hints, a claim is compared. */
  private blockTx(c: BlockContext): BlockTx {
    return {
      self: c.self,
      lastGiven: c.lastGiven,
      mine: (net) => {
        const out = new Set<string>();
        for (const [block, holder] of this.m.blocksOf(net)) if (holder === c.self) out.add(block);
        const prefix = keys.block(net, '');
        const chain: OverlayTx[] = [];
        for (let t: OverlayTx | undefined = this; t; t = t.parent) chain.unshift(t);
        for (const t of chain)
          for (const [k, v] of t.writes) {
            if (!k.startsWith(prefix)) continue;
            const block = decodeURIComponent(k.slice(prefix.length));
            if (v === c.self) out.add(block);
            else out.delete(block);
          }
        return [...out];
      },
      holders: (net) => [...new Set(this.m.blocksOf(net).values())],
      holder: (net, block) => this.peek(keys.block(net, block)),
      claim: (net, block) => {
        if (this.get(keys.block(net, block)) !== undefined)
          throw conflict(`address block ${block} of ${net} is claimed`);
        this.put(keys.block(net, block), c.self);
      },
      isFree: (net, addr) => this.peek(keys.addr(net, addr)) === undefined,
      knownFull: (net, block) => c.full.get(net)?.get(block) === this.m.freesOf(net),
      markFull: (net, block) => {
        let m = c.full.get(net);
        if (!m) c.full.set(net, (m = new Map()));
        m.set(block, this.m.freesOf(net));
      },
    };
  }

  addressHolder(net: string, addr: string): string | undefined {
    return this.get(keys.addr(net, addr));
  }
  reserveAddress(net: string, addr: string, attachmentId: string): void {
    if (this.get(keys.addr(net, addr)) !== undefined) throw conflict(`${addr} in network ${net} is already reserved`);
    this.put(keys.addr(net, addr), attachmentId);
  }
  releaseAddress(net: string, addr: string): void {
    if (this.peek(keys.addr(net, addr)) !== undefined) this.put(keys.addr(net, addr), undefined);
  }
  macHolder(scope: string, mac: string): string | undefined {
    return this.get(keys.mac(scope, mac));
  }
  reserveMac(scope: string, mac: string, attachmentId: string): void {
    if (this.get(keys.mac(scope, mac)) !== undefined) throw conflict(`MAC ${mac} is already reserved (${scope})`);
    this.put(keys.mac(scope, mac), attachmentId);
  }
  releaseMac(scope: string, mac: string): void {
    if (this.peek(keys.mac(scope, mac)) !== undefined) this.put(keys.mac(scope, mac), undefined);
  }
}

const parse = <T>(v: string | undefined): T | undefined => (v === undefined ? undefined : (JSON.parse(v) as T));
const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
