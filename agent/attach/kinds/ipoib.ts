// An InfiniBand parent: an IPoIB child with a pkey (hex, as pipework reads `@8001`), made in the container.
import { parsePkey } from '../../../common/attach/index.js';
import { invalid } from '../../../common/errors.js';
import { inContainerPlan, removeInContainer } from './in-container.js';
import type { Kind } from './types.js';

/** The default partition when no `@pkey` is given. */
export const DEFAULT_PKEY = 0xffff;

export const ipoibKind: Kind = {
  kind: 'ipoib',
  async plan(env, { order, c, hostIfname, mtu }) {
    if (order.mac.kind !== 'auto') {
      throw invalid(
        `an IPoIB interface cannot take a MAC (${order.mac.mac}): its 20-byte hardware ` +
          `address comes from the InfiniBand port`,
        'leave the MAC out; @PKEY alone (e.g. @8001) picks the partition',
      );
    }
    const pkey = order.id !== undefined ? parsePkey(order.id) : DEFAULT_PKEY;
    return inContainerPlan(env, order, c, {
      needs: [{ cap: 'ipoib', hint: 'IPoIB needs an InfiniBand device on this host (ib*) and the ib_ipoib module' }],
      addOp: { t: 'ipoib', name: hostIfname, link: order.hostIf, mtu, netns: c.netns, pkey },
      tmpName: hostIfname,
      parent: order.hostIf,
    });
  },
  remove: removeInContainer,
};
