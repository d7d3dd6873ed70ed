// Attach and detach: the shared flow for every host-interface kind (agent/attach/kinds/):
// resolve → per-key queue → idempotency/conflict → kind plan → capability check → undo stack →
// container addressing batch → read-back → record.
import { existsSync } from 'node:fs';
import type { AddressSpec } from '../../common/attach-args.js';
import { conflict, FleetnetError } from '../../common/errors.js';
import { hostIfName } from '../../common/ifname.js';
import { KeyedQueue } from '../../common/keyed-queue.js';
import { HostNameClaims } from './host-names.js';
import { UndoStack } from '../../common/undo.js';
import { describeContainer, type ContainerInfo } from '../containers/types.js';
import { dhcpAddressOf, dhcpStartSpec } from '../dhcp/attach-dhcp.js';
import type { Lease } from '../dhcp/types.js';
import type { Capability } from '../linux/capabilities.js';
import type { LinkOp } from '../linux/link-ops.js';
import { readHostLink } from '../linux/sysfs.js';
import { OvsCtl } from '../ovs/vsctl.js';
import { readDefaults, restoreDefaults } from './default-routes.js';
import { noteState, recordFailure, type StatePatch } from './record-state.js';
import { detachRecords, dropHostPeer, dropStale, releaseRecord, type Removal } from './removal.js';
import { decideKind, KINDS } from './kinds/index.js';
import type { KindEnv, Made } from './kinds/types.js';
import { capabilitiesOnce, refuseUnmet } from './needs.js';
import { orderFingerprint, type AttachOrder, type DetachOrder } from './order.js';
import { ownedKeeper, type OwnedKeeper } from './ownership.js';
import { parseAddrShow, verifyLink } from './readback.js';
import { claimOrAdopt, type AdoptDeps } from './adopt.js';
import { announceConf, announceWhenForwarding, quietIpv6 } from './announce.js';
import { makeRecord } from './make-record.js';
import { SegmentAddresses } from './segment-addresses.js';
import type { AttacherDeps, AttachOptions, AttachResult } from './attacher-contract.js';
import { recordKeyOf, type AttachmentRecord, type OwnedRef, type RouteSnapshot } from './records.js';

type Static = Extract<AddressSpec, { kind: 'static' }>;

export class Attacher {
  private readonly queue = new KeyedQueue();
  /** Attaches under way per host interface: a host interface in use by one of them is never removed. */
  private readonly inflight = new Map<string, number>();
  /** Host-side names of attaches under way: the orphan sweep leaves them alone. */
  private readonly names = new HostNameClaims();
  private readonly segments: SegmentAddresses;
  private readonly env: KindEnv;
  private readonly adoptDeps: AdoptDeps;
  private readonly removal: Removal;
  private readonly capabilities: () => Promise<Capability[]>;
  /** Announcements still to be sent (after their reply): see announceWhenForwarding. */
  private readonly announcing = new Set<Promise<void>>();
  /** Owned bridges and links: the orphan sweep asks and removes through it (same lock, same in-flight count). */
  readonly owned: OwnedKeeper;

  constructor(private readonly d: AttacherDeps) {
    this.capabilities = capabilitiesOnce(d);
    this.segments = new SegmentAddresses(d.records);
    const ovs = new OvsCtl(d.runner, d.ovsDb);
    const lockHostIf = <T>(name: string, fn: () => Promise<T>) => this.queue.run(`hostif:${name}`, fn);
    this.env = {
      runner: d.runner,
      ip: d.ip,
      ovs,
      records: d.records,
      log: d.log,
      defaultOvsDatapath: d.ovsDatapath ?? 'system',
      ...(d.ownerMark ? { ownerMark: d.ownerMark } : {}),
      ...(d.sysClassNet ? { sysClassNet: d.sysClassNet } : {}),
      lockHostIf,
      releaseOwned: (ref: OwnedRef) => this.owned.release(ref).then(() => undefined),
    };
    const busy = (name: string) => (this.inflight.get(name) ?? 0) > 0 || !!d.meshHolds?.(name);
    this.owned = ownedKeeper({ ...this.env, busy }, lockHostIf);
    this.adoptDeps = { env: this.env, ip: d.ip, records: d.records, log: d.log };
    this.removal = { d, env: this.env, queue: this.queue };
    if (d.sysClassNet) this.adoptDeps.sysClassNet = d.sysClassNet;
    d.dhcp?.on('event', (ev) => {
      if (ev.type === 'stopped' && ev.ownerGone)
        void dropHostPeer(this.removal, ev.key, (r) => this.liveState(r) === 'container-gone');
    });
  }

  async attach(order: AttachOrder, opts: AttachOptions = {}): Promise<AttachResult> {
    opts.signal?.throwIfAborted();
    const container = await this.d.resolver.resolve(order.target);
    const key = recordKeyOf(container, order.ifname);
    return this.queue.run(key, async () => {
      // nobody waits for it any more: nothing is made (once started, an attach completes or undoes itself)
      opts.signal?.throwIfAborted();
      const before = this.d.records.get(key);
      if (opts.onlyIfRecorded && !before) {
        throw new FleetnetError('not_found', `${key} was detached meanwhile: not made again`);
      }
      // In flight on its host interface before it looks at it: no detach removes that bridge as unused meanwhile.
      const held = this.hold([order.hostIf]);
      try {
        return await this.attachLocked(order, container, key, opts, held);
      } catch (err) {
        // A recorded attachment that could not be made again stays recorded, failed, with its attempts.
        const r = this.d.records.get(key);
        if (
          r &&
          r === before &&
          !order.dryRun &&
          r.fingerprint === orderFingerprint(order) &&
          !this.isLive(r, container)
        )
          recordFailure(this.d.records, r, err);
        throw err;
      } finally {
        held();
        this.segments.release(key);
      }
    });
  }

  /** Counts an attach in flight on host interfaces (deleteOwnedIfUnused leaves them) until released, once. */
  private hold(names: readonly string[]): () => void {
    for (const n of names) this.inflight.set(n, (this.inflight.get(n) ?? 0) + 1);
    let on = true;
    return () => {
      if (on) for (const n of names) this.inflight.set(n, (this.inflight.get(n) ?? 1) - 1);
      on = false;
    };
  }

  private isLive(r: AttachmentRecord, c: ContainerInfo): boolean {
    return r.container.nsKey === c.nsKey && r.state === 'up' && this.liveState(r) === 'up';
  }

  private async attachLocked(
    order: AttachOrder,
    c: ContainerInfo,
    key: string,
    opts: AttachOptions,
    held: () => void,
  ): Promise<AttachResult> {
    const fp = orderFingerprint(order);
    const existing = this.d.records.get(key);
    let again: AttachmentRecord | undefined;
    let lastLease: string | undefined;
    if (existing && !order.dryRun) {
      if (existing.fingerprint !== fp) {
        // Input no attach could use (a bad new bridge name, a missing interface) is named before the conflict.
        await decideKind(this.env, order, readHostLink(order.hostIf, this.d.sysClassNet));
        throw conflict(
          `${describeContainer(c)} already has ${order.ifname} from fleetnet with other settings ` +
            `(${existing.hostIf}, ${existing.addresses.join(' ') || 'no address'}, ${existing.mac})`,
          `detach it first: fleetnet detach ${c.name} -i ${order.ifname}`,
        );
      }
      const sameNs = existing.container.nsKey === c.nsKey;
      const live = sameNs
        ? parseAddrShow(
            (await this.d.ip.inNs(c.netns, [{ t: 'addr-show', dev: order.ifname }]).catch(() => [[]]))[0] ?? [],
          )
        : undefined;
      if (live && existing.addresses.every((a) => live.addresses.includes(a)) && this.liveState(existing) === 'up') {
        if (existing.state && existing.state !== 'up')
          this.d.records.put({ ...existing, state: 'up', attempts: 0, lastError: '' });
        return { record: this.d.records.get(key)!, changed: false, commands: [] };
      }
      this.d.log.info({ key, restarted: !sameNs }, 'recorded interface is not in the container; making it again');
      // The lease it held is asked for again (with the same MAC, so also the same client id).
      lastLease = this.d.dhcp?.lease(key)?.address.split('/')[0];
      await dropStale(this.removal, existing);
      again = existing;
    }
    const statics = order.addresses.filter((a): a is Static => a.kind === 'static');
    const dhcp = dhcpAddressOf(order.addresses, c, !!this.d.dhcp);
    // Under the interface's lock: an attach making this bridge has finished (sysfs shows a bridge being
    // registered before its bridge/ entries, as if it were an Ethernet interface).
    const host = await this.env.lockHostIf(order.hostIf, async () => readHostLink(order.hostIf, this.d.sysClassNet));
    const decided = await decideKind(this.env, order, host);
    const mtu = order.mtu ?? host?.mtu ?? 1500;
    const hostIfname = order.hostIfname ?? hostIfName(c.runtime, c.id, order.ifname);
    // Made again (the container restarted): the same MAC as before, also when the kernel chose it.
    const mac = order.mac.kind === 'auto' ? again?.mac || undefined : order.mac.mac;
    const plan = await KINDS[decided.kind].plan(this.env, {
      order,
      c,
      host,
      ovsBridgeExists: decided.ovsBridgeExists,
      hostIfname,
      mtu,
      ...(mac ? { mac } : {}),
    });
    if (plan.needs.length) refuseUnmet(await this.capabilities(), plan.needs);
    const ips = statics.map((a) => a.cidr.addr.text);
    this.segments.claim({ key, hostIf: order.hostIf, vlan: order.id ?? '', kind: decided.kind, ips });
    if (!order.dryRun) {
      await this.names.claim(hostIfname); // released at the end of the make below, or here
      const adopted = await claimOrAdopt(this.adoptDeps, {
        order,
        c,
        key,
        fp,
        kind: decided.kind,
        hostIfname,
        mtu,
        keepAddress: !!opts.keepAddress,
        ...(mac ? { mac } : {}),
        ...(plan.parent ? { parent: plan.parent } : {}),
      }).catch((err: unknown) => {
        this.names.release(hostIfname);
        throw err;
      });
      if (adopted) this.names.release(hostIfname);
      if (adopted) return { record: adopted, changed: false, commands: [] };
    }

    const gwFamilies = [...new Set(statics.filter((a) => a.gateway).map((a) => a.cidr.addr.family))];
    const dev = order.ifname;
    const announce = this.d.garp !== false;
    // A veth's host port passes frames only after the kernel's link watcher ran: its kernel announces later.
    const later = decided.kind === 'bridge' || decided.kind === 'ovs';
    const devconf = announceConf(plan.nsName, statics, announce && (!later || !!order.dryRun));
    const nsOps = (prelude: LinkOp[]): LinkOp[] => [
      ...(devconf ? [devconf] : []),
      ...prelude,
      ...statics.map((a): LinkOp => ({ t: 'addr-add', cidr: a.cidr, dev, nodad: a.cidr.addr.family === 6 })),
      { t: 'set', name: dev, up: true, ...(quietIpv6(mtu, order.addresses) ? { addrGenMode: 'none' as const } : {}) },
      ...statics.flatMap((a): LinkOp[] => (a.gateway ? [{ t: 'default-via', gw: a.gateway, dev }] : [])),
      { t: 'addr-show', dev },
    ];

    if (order.dryRun) {
      const commands = [
        ...plan.prepareCommands,
        ...gwFamilies.map((f) => `nsenter --net=${c.netns} ip -${f} -json route show default`),
        ...plan.commands,
        ...this.d.ip.describe(c.netns, nsOps(plan.nsPrelude)),
        ...(dhcp
          ? [`${dhcp.client}${dhcp.options ? `:${dhcp.options}` : ''} on ${order.ifname}, supervised by the agent`]
          : []),
      ];
      const made: Made = { hostIfname: '', owned: [] };
      const record = makeRecord({ order, c, key, fp, kind: decided.kind, made, mtu, mac: mac ?? '' });
      return { record, changed: false, commands };
    }

    const undo = new UndoStack();
    const release = this.hold(plan.uses); // order.hostIf is held since before it was looked at
    try {
      const owned = await plan.prepare(undo);
      const replaced: RouteSnapshot[] = [];
      for (const f of gwFamilies) replaced.push(...(await readDefaults(this.d.runner, c.netns, f)));
      const made: Made = { ...(await plan.apply(undo)), owned };
      if (replaced.length)
        undo.push('restore default routes', () => restoreDefaults(this.d.runner, this.d.log, c.netns, replaced));
      plan.beforeNsBatch?.();
      const out = await this.d.ip.inNs(c.netns, nsOps(plan.nsPrelude));
      const live = verifyLink(parseAddrShow(out[out.length - 1] ?? []), {
        ifname: order.ifname,
        addresses: statics.map((a) => a.cidr.text),
        ...(mac ? { mac } : {}),
        mtu,
      });
      if (dhcp && this.d.dhcp) {
        const sup = this.d.dhcp;
        undo.push('stop dhcp client', () => sup.stop(key, { release: true, reason: 'attach failed' }));
        const spec = await dhcpStartSpec(dhcp, c, key, order.ifname, live.mac, order);
        await sup.start(spec, lastLease ? { lastAddress: lastLease } : {});
      }
      const record = makeRecord({
        order,
        c,
        key,
        fp,
        kind: decided.kind,
        made,
        mtu,
        mac: live.mac,
        replaced,
        keepAddress: !!opts.keepAddress,
      });
      record.addresses = live.addresses;
      this.d.records.put(record);
      undo.clear();
      if (announce && later && made.hostIfname) {
        const sent = announceWhenForwarding(
          this.d,
          {
            netns: c.netns,
            dev: order.ifname,
            mac: live.mac,
            statics,
            hostIfname: made.hostIfname,
            bridgePort: decided.kind === 'bridge',
          },
          (fn) =>
            this.queue.run(key, async () => {
              if (this.d.records.get(key) === record) await fn();
            }),
        );
        this.announcing.add(sent);
        void sent.finally(() => this.announcing.delete(sent));
      }
      return { record, changed: true, commands: [] };
    } finally {
      this.names.release(hostIfname);
      release();
      held(); // its own undo may remove a bridge it made
      await undo.unwind(this.d.log);
    }
  }

  async detach(order: DetachOrder): Promise<{ removed: boolean }> {
    return detachRecords(this.removal, order);
  }

  /** Settles once the address announcements of the attaches made so far are sent (or given up). */
  async announcementsSent(): Promise<void> {
    await Promise.all([...this.announcing]);
  }

  /** The DHCP lease of an attachment, when it has a client. */
  lease(key: string): Lease | undefined {
    return this.d.dhcp?.lease(key);
  }

  list(): AttachmentRecord[] {
    return this.d.records.all();
  }

  /** Host-side names of attaches under way (the orphan sweep must not touch them). */
  inProgress(): ReadonlySet<string> {
    return this.names.names();
  }

  /** Runs an orphan's removal unless an attach holds its host-side name (false: it did not run). */
  removeIfUnclaimed(name: string, remove: () => Promise<void>): Promise<boolean> {
    return this.names.ifUnclaimed(name, remove);
  }

  /** Runs fn under the record's key (one writer per attachment). */
  locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
    return this.queue.run(key, fn);
  }

  /**
   * A lifecycle fact about a record (stopped, failed with its attempts): kept on disk, shown by ls.
   * With `over`, written only when the record is still that one (not replaced by a re-apply since).
   */
  note(key: string, patch: StatePatch, over?: AttachmentRecord): boolean {
    return noteState(this.d.records, key, patch, over);
  }

  /** The container is gone for good: everything this attachment holds on the host goes (releaseRecord). */
  async release(key: string, reason: string): Promise<boolean> {
    return releaseRecord(this.removal, key, reason);
  }

  /** What is true now of a recorded interface, read from sysfs and /proc (no process is run). */
  liveState(r: AttachmentRecord): 'up' | 'missing' | 'container-gone' | 'stopped' | 'failed' {
    if (r.state === 'stopped' || r.state === 'failed') return r.state;
    if (!existsSync(r.container.netns)) return 'container-gone';
    if (r.hostIfname && !readHostLink(r.hostIfname, this.d.sysClassNet)) return 'missing';
    return 'up';
  }
}
