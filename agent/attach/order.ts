// The domain form of an attach: the attach contract (common/attach/) with the host interface
// resolved and the container interface named. Parsed and validated once, at the service edge.
import { agentFingerprint, type AttachSpec, type TargetRef } from '../../common/attach/index.js';
import type { IfName } from '../../common/ifname.js';

export { MACVLAN_MODES, type HostIfKind, type MacvlanMode } from '../../common/attach/index.js';

export interface AttachOrder extends Omit<AttachSpec, 'mtu'> {
  hostIf: IfName;
  /** Bytes; checked by parseMtu at the edge (a plain number here so that tests can build orders). */
  mtu?: number;
  ifname: IfName;
  dryRun: boolean;
}

export interface DetachOrder {
  target: TargetRef;
  ifname: IfName;
  attachmentId?: string;
}

/** What must be equal for a repeated attach to be "the same request". */
export const orderFingerprint = (o: AttachOrder): string => agentFingerprint(o);
