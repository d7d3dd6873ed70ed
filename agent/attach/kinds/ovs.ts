// Open vSwitch bridge: a veth whose host end is an OVS port tagged with fleetnet's external_ids; `@VID` → tag.
import { parseVlanId } from '../../../common/attach/index.js';
import type { LinkOp } from '../../linux/link-ops.js';
import { OvsCtl } from '../../ovs/vsctl.js';
import { recordKeyOf, type OwnedRef } from '../records.js';
import type { Kind, KindEnv } from './types.js';
import { hostPortMtu, makeBridgedVeth, vethOp } from './veth.js';
import { quietIpv6 } from '../announce.js';
import { refuseTakenName } from './name-taken.js';

export const ovsKind: Kind = {
  kind: 'ovs',
  async plan(env, { order, c, host, ovsBridgeExists, hostIfname, mtu, mac }) {
    const br = order.hostIf;
    const create = !ovsBridgeExists;
    const datapath = order.ovsDatapath ?? env.defaultOvsDatapath;
    const vid = order.id !== undefined ? parseVlanId(order.id) : undefined;
    // A bridge fleetnet made before (external_ids fleetnet=owned) is fleetnet's, also after a restart.
    const ownedNow = create || (await env.ovs.bridgeOwned(br));
    // Converged means working: a bridge ovs-vswitchd could not make takes no attach (exit 1, the fix named).
    const broken = create ? undefined : await env.ovs.datapathProblem(br);
    if (broken) throw broken;
    // OVS would report its own interface's failure only in the database, and the port would still be added.
    if (create) await refuseTakenName(env.runner, br, 'ovs');
    const addBr = OvsCtl.addBridgeArgs(br, datapath);
    const addPort = OvsCtl.addPortArgs(
      br,
      hostIfname,
      { attachmentId: order.attachmentId ?? recordKeyOf(c, order.ifname), container: c.name, ifname: order.ifname },
      vid,
    );
    // The bridge's own interface (its MTU) exists once the bridge does.
    const portMtu = hostPortMtu(mtu, create ? undefined : host);
    const makeOps: LinkOp[] = [vethOp(hostIfname, order.ifname, mtu, mac, c.netns, portMtu)];
    const upOps: LinkOp[] = [
      {
        t: 'set',
        name: hostIfname,
        up: true,
        ...(quietIpv6(portMtu) ? { addrGenMode: 'none' as const } : {}),
        ...(env.ownerMark ? { alias: env.ownerMark } : {}),
      },
    ];
    const hostOps: LinkOp[] = [...makeOps, ...upOps];
    return {
      uses: [],
      nsName: order.ifname,
      nsPrelude: [],
      needs: create
        ? [
            {
              cap: 'ovs',
              hint:
                'install openvswitch-switch and start it, or pass the agent --ovs-db ' +
                'unix:PATH of a running ovsdb-server',
            },
            {
              cap: `ovs-${datapath}`,
              hint:
                datapath === 'system'
                  ? 'load the openvswitch kernel module, or use the user-space datapath: --ovs-datapath netdev'
                  : 'start ovs-vswitchd with user-space (netdev) support',
            },
          ]
        : [],
      prepareCommands: create ? [env.ovs.describe(...addBr)] : [],
      commands: [...env.ip.describe(undefined, hostOps), env.ovs.describe(...addPort)],
      async prepare(undo) {
        const owned: OwnedRef[] = ownedNow ? [{ type: 'ovs-bridge', name: br }] : [];
        // A bridge fleetnet made, now or for an attachment since gone: a failed attach leaves it only when something
        // else uses it (releaseOwned), as for a Linux bridge.
        if (ownedNow) undo.push('delete created OVS bridge', () => env.releaseOwned({ type: 'ovs-bridge', name: br }));
        if (!create) return owned;
        await env.lockHostIf(br, async () => {
          if (await env.ovs.bridgeExists(br)) return;
          try {
            await env.ovs.run(...addBr);
            const broken = await env.ovs.datapathProblem(br);
            if (broken) throw broken;
          } catch (err) {
            // It did not exist a moment ago and nobody else creates it (this lock): remove what the call left.
            await env.ovs.run('--if-exists', 'del-br', br).catch(() => undefined);
            throw err;
          }
        });
        return owned;
      },
      async apply(undo) {
        // The veth and its settings in one batch, as for a Linux bridge (bridge.ts).
        await makeBridgedVeth(env, 'ovs', { order, c, br, hostIfname, hostOps }, undo);
        undo.push('delete OVS port', () => env.ovs.run(...OvsCtl.delPortArgs(br, hostIfname)));
        await env.ovs.run(...addPort);
        return { hostIfname };
      },
    };
  },
  async remove(env, r) {
    if (r.hostIfname) {
      await env.ovs
        .run(...OvsCtl.delPortArgs(r.hostIf, r.hostIfname))
        .catch((err: unknown) => env.log.warn({ err, port: r.hostIfname }, 'could not remove the OVS port'));
      await env.runner.run('ip', ['link', 'del', r.hostIfname], { allowFail: true });
    }
  },
};

/**
 * After a restart that lost the state dir, fleetnet still knows its OVS ports by their external_ids:
 * a detach with no record removes the ports tagged with that container and ifname (and their veths).
 */
export async function removeUnrecordedOvsPorts(env: KindEnv, container: string, ifname: string): Promise<boolean> {
  const ports = await env.ovs.ownedPorts().catch(() => []);
  let removed = false;
  for (const p of ports.filter((x) => x.container === container && x.ifname === ifname)) {
    const bridge = (await env.ovs.run('port-to-br', p.port).catch(() => '')).trim();
    if (bridge) await env.ovs.run(...OvsCtl.delPortArgs(bridge, p.port));
    await env.runner.run('ip', ['link', 'del', p.port], { allowFail: true });
    env.log.info({ port: p.port, container, ifname }, 'removed an OVS port fleetnet made that had no record');
    removed = true;
  }
  return removed;
}
