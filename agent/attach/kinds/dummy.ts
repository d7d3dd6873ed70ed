// `dummy`: a dummy interface in the container (addresses and gateway as usual), nothing on the host.
import { inContainerPlan, removeInContainer } from './in-container.js';
import type { Kind } from './types.js';

export const dummyKind: Kind = {
  kind: 'dummy',
  async plan(env, { order, c, hostIfname, mtu, mac }) {
    return inContainerPlan(env, order, c, {
      needs: [{ cap: 'dummy', hint: 'load the dummy module (modprobe dummy), or attach to a bridge instead' }],
      addOp: { t: 'dummy', name: hostIfname, mtu, ...(mac ? { mac } : {}), netns: c.netns },
      tmpName: hostIfname,
    });
  },
  remove: removeInContainer,
};
