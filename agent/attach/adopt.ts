// Before an attach makes anything: is the name it is about to make taken? Someone else's interface is
// refused (exit 2, left untouched); fleetnet's own from an earlier run is adopted when it is what was
// asked (an agent that lost its records), else removed so the attach makes it again (a half-made
// attach cut short by a kill).
import type { Logger } from 'pino';
import type { AddressSpec } from '../../common/attach-args.js';
import type { IpExec } from '../linux/ip.js';
import { OWNED_ALIAS, readHostLink } from '../linux/sysfs.js';
import { claimContainerIf, claimHostIfname, pluggedAsAsked, removeHostSide } from '../lifecycle/host-claim.js';
import { deleteInNs, type KindEnv } from './kinds/types.js';
import { makeRecord, type RecordInput } from './make-record.js';
import type { HostIfKind } from './order.js';
import { parseAddrShow, type LinkState } from './readback.js';
import type { AttachmentRecord, OwnedRef, RecordStore } from './records.js';

type Static = Extract<AddressSpec, { kind: 'static' }>;

/** Kinds whose interface is made only in the container (no host side). */
const IN_CONTAINER: ReadonlySet<HostIfKind> = new Set(['macvlan', 'ipoib', 'dummy']);

export interface AdoptDeps {
  env: KindEnv;
  ip: IpExec;
  records: RecordStore;
  log: Logger;
  sysClassNet?: string;
}

/** What the attach is about to make, as far as adoption compares it. */
export interface Planned extends Omit<RecordInput, 'made' | 'mac'> {
  hostIfname: string;
  mac?: string;
  /** macvlan's lower link (in-container kinds). */
  parent?: string;
}

/** The container's interface is what was asked: MTU, MAC (when asked) and every static address. */
async function liveAsAsked(d: AdoptDeps, p: Planned): Promise<LinkState | undefined> {
  const { order, c } = p;
  if (order.addresses.some((a) => a.kind === 'dhcp')) return undefined;
  const rows = await d.ip.inNs(c.netns, [{ t: 'addr-show', dev: order.ifname }]).catch(() => [[]]);
  const live = parseAddrShow(rows[0] ?? []);
  const statics = order.addresses.filter((a): a is Static => a.kind === 'static');
  const ok =
    live &&
    live.mtu === p.mtu &&
    (!p.mac || live.mac === p.mac) &&
    statics.every((a) => live.addresses.includes(a.cidr.text));
  return ok ? live : undefined;
}

function adopt(d: AdoptDeps, p: Planned, live: LinkState, hostIfname: string, owned: OwnedRef[]): AttachmentRecord {
  const made = { hostIfname, owned, ...(p.parent ? { parent: p.parent } : {}) };
  const record = makeRecord({ ...p, made, mac: live.mac });
  d.records.put(record);
  d.log.info(
    { key: p.key, hostIfname, ifname: p.order.ifname },
    'adopted an interface made before the record was lost',
  );
  return record;
}

/**
 * The adopted record, or undefined when the attach is to make everything (the name
 * was free, or what was there went).
 */
export async function claimOrAdopt(d: AdoptDeps, p: Planned): Promise<AttachmentRecord | undefined> {
  const { order, c, kind, key } = p;
  if (IN_CONTAINER.has(kind)) return claimOrAdoptInContainer(d, p);
  const claim = await claimHostIfname(d.env, kind, c, order.ifname, p.hostIfname, order.attachmentId ?? key);
  if (claim.kind === 'free') return undefined;
  const live = await liveAsAsked(d, p);
  if (live && (await pluggedAsAsked(d.env, kind, order.hostIf, p.hostIfname))) {
    const owned: OwnedRef[] =
      kind === 'bridge'
        ? readHostLink(order.hostIf, d.sysClassNet)?.alias === OWNED_ALIAS
          ? [{ type: 'link', name: order.hostIf }]
          : []
        : (await d.env.ovs.bridgeOwned(order.hostIf))
          ? [{ type: 'ovs-bridge', name: order.hostIf }]
          : [];
    return adopt(d, p, live, p.hostIfname, owned);
  }
  d.log.info({ key, hostIfname: p.hostIfname }, 'removing a half-made interface to make it again');
  await removeHostSide(d.env, kind, order.hostIf, p.hostIfname);
  return undefined;
}

/**
 * macvlan, IPoIB, dummy: the interface lives only in the container and carries the mark itself.
 * Someone else's interface of that name is refused (exit 2, untouched); fleetnet's own is adopted when
 * it is what was asked, else removed and made again.
 */
async function claimOrAdoptInContainer(d: AdoptDeps, p: Planned): Promise<AttachmentRecord | undefined> {
  const { order, c, parent } = p;
  if ((await claimContainerIf(d.env, c, order.ifname)).kind === 'free') return undefined;
  const live = await liveAsAsked(d, p);
  if (live) {
    const ownsParent =
      !!parent && parent !== order.hostIf && readHostLink(parent, d.sysClassNet)?.alias === OWNED_ALIAS;
    const owned: OwnedRef[] = ownsParent ? [{ type: 'link', name: parent! }] : [];
    return adopt(d, p, live, '', owned);
  }
  d.log.info({ key: p.key, ifname: order.ifname }, 'removing a half-made interface to make it again');
  await deleteInNs(d.env, c.netns, order.ifname);
  return undefined;
}
