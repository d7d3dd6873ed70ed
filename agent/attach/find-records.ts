// Which records a detach or an inspect means: by attachment id, by the container as it resolves now, or —
// the container gone or stopped — by what was recorded of it (CNI DEL semantics).
import type { TargetRef } from '../../common/attach/index.js';
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
  return findForTarget(records.all(), resolver, order.target, order.ifname);
}

/**
 * The records of the container `target` names (of its interface `ifname` when given): a name that fits
 * more than one container, or bad input, is refused; a container that does not resolve (gone, stopped)
 * is matched by what was recorded of it — name, ID, an ID prefix of 12+ characters, PID.
 */
export async function findForTarget(
  all: readonly AttachmentRecord[],
  resolver: Pick<ContainerResolver, 'resolve'>,
  target: TargetRef,
  ifname?: string,
): Promise<AttachmentRecord[]> {
  const ofIf = (x: AttachmentRecord) => ifname === undefined || x.ifname === ifname;
  try {
    const c = await resolver.resolve(target);
    const r = ifname === undefined ? undefined : all.find((x) => x.key === recordKeyOf(c, ifname));
    if (r) return [r];
    // The same container may have been attached under an earlier namespace (it restarted), or the same
    // live namespace under another name (attached as netns:NAME, detached by its /run/netns path).
    const sameContainer = (x: AttachmentRecord) => x.container.runtime === c.runtime && x.container.id === c.id;
    const sameNs = (x: AttachmentRecord) => !!c.nsKey && x.container.nsKey === c.nsKey;
    return all.filter((x) => ofIf(x) && (sameContainer(x) || sameNs(x)));
  } catch (err) {
    if (!(err instanceof FleetnetError)) throw err;
    if (err.kind === 'invalid' || err.kind === 'ambiguous') throw err;
    const v = target.value;
    const named = (x: AttachmentRecord) =>
      x.container.name === v ||
      x.container.id === v ||
      (v.length >= 12 && x.container.id.startsWith(v)) ||
      String(x.container.pid) === v;
    return all.filter((x) => ofIf(x) && named(x));
  }
}
