// The record of an attachment as made (or adopted): what the agent keeps on disk, lists, and
// re-applies from (its saved order) when the container starts again.
import type { AddressSpec } from '../../common/attach-args.js';
import type { ContainerInfo } from '../containers/types.js';
import { saveOrder } from '../lifecycle/saved-order.js';
import type { Made } from './kinds/types.js';
import type { AttachOrder, HostIfKind } from './order.js';
import type { AttachmentRecord, RouteSnapshot } from './records.js';

type Static = Extract<AddressSpec, { kind: 'static' }>;

export interface RecordInput {
  order: AttachOrder;
  c: ContainerInfo;
  key: string;
  fp: string;
  kind: HostIfKind;
  made: Made;
  mtu: number;
  mac: string;
  replaced?: RouteSnapshot[];
  /** Kept in the saved order: the controller reads it when the container goes. */
  keepAddress?: boolean;
}

export function makeRecord(i: RecordInput): AttachmentRecord {
  const { order, c, key, made } = i;
  const statics = order.addresses.filter((a): a is Static => a.kind === 'static');
  return {
    key,
    attachmentId: order.attachmentId ?? key,
    fingerprint: i.fp,
    container: c,
    ifname: order.ifname,
    hostIfname: made.hostIfname,
    hostIf: order.hostIf,
    kind: i.kind,
    mac: i.mac,
    addresses: statics.map((a) => a.cidr.text),
    gateways: statics.flatMap((a) => (a.gateway ? [a.gateway.text] : [])),
    mtu: i.mtu,
    vlan: order.id ?? '',
    createdHostIf: made.owned.some((o) => o.name === order.hostIf),
    owned: made.owned,
    ...(made.parent ? { parent: made.parent } : {}),
    ...(made.trunk ? { trunk: made.trunk } : {}),
    replacedDefaults: i.replaced ?? [],
    createdAtMs: Date.now(),
    order: saveOrder(order, i.keepAddress ? { keepAddress: true } : {}),
    state: 'up',
    attempts: 0,
  };
}
