// Which records a detach means: by attachment id, by the container as it resolves now, or — the
// container gone or stopped — by what was recorded of it (CNI DEL semantics).
import { FleetnetError } from '../../common/errors.js';
import type { ContainerResolver } from '../containers/resolve.js';
import type { DetachOrder } from './order.js';
import { recordKeyOf, type AttachmentRecord, type RecordStore } from './records.js';

export async function findForDetach(
  records: RecordStore,
  resolver: Pick<ContainerResolver, 'resolve'>,
  order: DetachOrder,
): Promise<AttachmentRecord[]> {
  if (order.attachmentId) return records.find((r) => r.attachmentId === order.attachmentId);
  try {
    const c = await resolver.resolve(order.target);
    const r = records.get(recordKeyOf(c, order.ifname));
    if (r) return [r];
    // The same container may have been attached under an earlier namespace (it restarted), or the same
    // live namespace under another name (attached as netns:NAME, detached by its /run/netns path).
    const sameContainer = (x: AttachmentRecord) => x.container.runtime === c.runtime && x.container.id === c.id;
    const sameNs = (x: AttachmentRecord) => !!c.nsKey && x.container.nsKey === c.nsKey;
    return records.find((x) => x.ifname === order.ifname && (sameContainer(x) || sameNs(x)));
  } catch (err) {
    if (!(err instanceof FleetnetError)) throw err;
    if (err.kind === 'invalid' || err.kind === 'ambiguous') throw err;
    const v = order.target.value;
    const named = (x: AttachmentRecord) =>
      x.container.name === v ||
      x.container.id === v ||
      (v.length >= 12 && x.container.id.startsWith(v)) ||
      String(x.container.pid) === v;
    return records.find((x) => x.ifname === order.ifname && named(x));
  }
}
