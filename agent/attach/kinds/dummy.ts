// `dummy`: a dummy interface in the container (addresses and gateway as usual), nothing on the host.
import { line } from '../../linux/ip.js';
import { inContainerPlan, removeInContainer } from './in-container.js';
import type { Kind } from './types.js';

export const dummyKind: Kind = {
  kind: 'dummy',
  async plan(env, { order, c, hostIfname, mtu, mac }) {
    return inContainerPlan(env, order, c, {
      needs: [{ cap: 'dummy', hint: 'load the dummy module (modprobe dummy), or attach to a bridge instead' }],
      addLine: line('link', 'add', hostIfname, 'mtu', mtu, ...(mac ? ['address', mac] : []), 'netns', c.netns, 'type', 'dummy'),
      tmpName: hostIfname,
    });
  },
  remove: removeInContainer,
};
