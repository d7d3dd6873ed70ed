// A NIC as host interface: a macvlan child made straight into the container, `@VID` on `<if>.<VID>`.
import { parseVlanId } from '../../../common/attach/index.js';
import { OWNED_ALIAS, readHostLink } from '../../linux/sysfs.js';
import { vlanLinkName, vlanLinkOps } from '../../links/vlan.js';
import { recordKeyOf, type OwnedRef } from '../records.js';
import { explainMacvlanRefusal } from './macvlan-refusal.js';
import { inContainerPlan, removeInContainer } from './in-container.js';
import type { Kind } from './types.js';

export const macvlanKind: Kind = {
  kind: 'macvlan',
  async plan(env, { order, c, hostIfname, mtu, mac }) {
    const mode = order.macvlanMode ?? 'bridge';
    const vid = order.id !== undefined ? parseVlanId(order.id) : undefined;
    const lower = vid !== undefined ? vlanLinkName(order.hostIf, order.id!) : order.hostIf;
    const found = vid !== undefined ? readHostLink(lower, env.sysClassNet) : undefined;
    const createVlan = vid !== undefined && !found;
    const owned: OwnedRef[] = createVlan || found?.alias === OWNED_ALIAS ? [{ type: 'link', name: lower }] : [];
    const vlanOps = createVlan ? vlanLinkOps(order.hostIf, lower, vid) : [];
    return inContainerPlan(env, order, c, {
      needs: [
        { cap: 'macvlan', hint: 'use a Linux bridge (br*) or an OVS bridge (ovs*) as host interface' },
        ...(vid !== undefined
          ? [{ cap: '8021q', hint: `create ${lower} another way, or use an OVS bridge, which tags in user space` }]
          : []),
      ],
      addOp: { t: 'macvlan', name: hostIfname, link: lower, mtu, ...(mac ? { mac } : {}), netns: c.netns, mode },
      tmpName: hostIfname,
      parent: lower,
      explain: (err) => explainMacvlanRefusal(env, { lower, mode, mtu, key: recordKeyOf(c, order.ifname) }, err),
      prepareCommands: env.ip.describe(undefined, vlanOps),
      async prepare(undo) {
        // `<if>.<VID>` fleetnet made, now or earlier: a failed attach leaves it only when something else uses it.
        if (owned.length) undo.push(`delete created ${lower}`, () => env.releaseOwned({ type: 'link', name: lower }));
        if (!createVlan) return owned;
        await env.lockHostIf(lower, async () => {
          if (readHostLink(lower, env.sysClassNet)) return;
          try {
            await env.ip.host(vlanOps);
          } catch (err) {
            await env.runner.run('ip', ['link', 'del', lower], { allowFail: true }); // what the batch left
            throw err;
          }
        });
        return owned;
      },
    });
  },
  remove: removeInContainer,
};
