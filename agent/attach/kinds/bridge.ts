// Linux bridge: a veth whose host end is a bridge port; `@VID` makes it an untagged PVID port.
import { createHash } from 'node:crypto';
import { parseVlanId } from '../../../common/attach/index.js';
import { conflict, invalid, notFound } from '../../../common/errors.js';
import { line } from '../../linux/ip.js';
import type { LinkOp } from '../../linux/link-ops.js';
import { bridgeVlanFiltering, masterOf, OWNED_ALIAS, readHostLink } from '../../linux/sysfs.js';
import type { AttachmentRecord, OwnedRef } from '../records.js';
import type { Kind, KindEnv } from './types.js';
import { hostPortMtu, makeBridgedVeth, vethOp } from './veth.js';
import { quietIpv6 } from '../announce.js';
import { refuseTakenName } from './name-taken.js';

/**
 * A bridge fleetnet makes gets a fixed MAC (locally administered, derived from its name): a bridge
 * without one takes the lowest port MAC and changes it as ports come and go, which drops unicast
 * traffic to the host that was addressed to the old MAC (a DHCP renewal or release, for one).
 */
export function bridgeMac(name: string): string {
  const h = createHash('sha256').update(`fleetnet-bridge\0${name}`).digest();
  h[0] = (h[0]! & 0xfc) | 0x02;
  return [...h.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

export function bridgeOps(name: string): LinkOp[] {
  return [
    { t: 'bridge', name, mac: bridgeMac(name) },
    { t: 'set', name, alias: OWNED_ALIAS },
    { t: 'set', name, up: true },
  ];
}

/** `bridge -batch` lines giving a port one VLAN as untagged PVID (VID 1 removed), and a trunk the VLAN tagged. */
export function bridgeVlanLines(port: string, vid: number, trunk?: string): string[] {
  return [
    line('vlan', 'add', 'dev', port, 'vid', vid, 'pvid', 'untagged'),
    line('vlan', 'del', 'dev', port, 'vid', 1),
    ...(trunk ? [line('vlan', 'add', 'dev', trunk, 'vid', vid)] : []),
  ];
}

async function ensureBridge(env: KindEnv, name: string): Promise<boolean> {
  return env.lockHostIf(name, async () => {
    if (readHostLink(name, env.sysClassNet)) return false;
    try {
      await env.ip.host(bridgeOps(name));
    } catch (err) {
      // It did not exist a moment ago and nobody else creates it (this lock): remove what the batch left, unless
      // the name was taken ("File exists": someone else's link, also one that has it as an alternative name).
      if (!/File exists|EEXIST/i.test(String((err as Error)?.message ?? err)))
        await env.runner.run('ip', ['link', 'del', name], { allowFail: true });
      throw err;
    }
    return true;
  });
}

async function runBridgeBatch(env: KindEnv, lines: string[], allowFail = false): Promise<void> {
  await env.runner.run('bridge', ['-batch', '-'], { input: lines.join('\n') + '\n', allowFail });
}

export const bridgeKind: Kind = {
  kind: 'bridge',
  async plan(env, { order, c, host, hostIfname, mtu, mac }) {
    const br = order.hostIf;
    const create = !host;
    const ownedNow = create || host?.alias === OWNED_ALIAS;
    const vid = order.id !== undefined ? parseVlanId(order.id) : undefined;
    if (order.trunk && vid === undefined)
      throw invalid(
        '--trunk needs a VLAN',
        `add @VID after the addresses, e.g. ... 10.1.1.5/24 @10 --trunk ${order.trunk}`,
      );
    if (order.trunk) {
      if (!readHostLink(order.trunk, env.sysClassNet))
        throw notFound(
          `trunk interface '${order.trunk}' does not exist`,
          `name a port of ${br} that leads to the uplink`,
        );
      if (!create && masterOf(order.trunk, env.sysClassNet) !== br)
        throw invalid(
          `trunk interface '${order.trunk}' is not a port of bridge ${br}`,
          `add it first: ip link set ${order.trunk} master ${br}`,
        );
      if (create)
        throw invalid(
          `--trunk ${order.trunk}: bridge ${br} does not exist yet, so it has no ports`,
          `create ${br} and add ${order.trunk} to it first`,
        );
    }
    if (create) await refuseTakenName(env.runner, br, 'bridge');
    let turnOn = false;
    if (vid !== undefined && !bridgeVlanFiltering(br, env.sysClassNet)) {
      if (!ownedNow && !order.vlanFiltering) {
        throw conflict(
          `bridge ${br} was not made by fleetnet and has vlan_filtering off; a VLAN needs it on`,
          `pass --vlan-filtering to let fleetnet turn it on (then every other port of ${br} only carries VLAN 1 ` +
            `unless you add VLANs to it), or attach to a bridge fleetnet creates`,
        );
      }
      turnOn = true;
    }
    const portMtu = hostPortMtu(mtu, host);
    const makeOps: LinkOp[] = [
      ...(turnOn ? [{ t: 'bridge-vlan-filtering', name: br } as const] : []),
      vethOp(hostIfname, order.ifname, mtu, mac, c.netns, portMtu),
    ];
    const plugOps: LinkOp[] = [
      {
        t: 'set',
        name: hostIfname,
        master: br,
        up: true,
        ...(quietIpv6(portMtu) ? { addrGenMode: 'none' as const } : {}),
        ...(env.ownerMark ? { alias: env.ownerMark } : {}),
      },
    ];
    const hostOps: LinkOp[] = [...makeOps, ...plugOps];
    const vlanLines = vid !== undefined ? bridgeVlanLines(hostIfname, vid, order.trunk) : [];
    return {
      uses: [],
      nsName: order.ifname,
      nsPrelude: [],
      needs:
        vid !== undefined
          ? [
              {
                cap: 'bridge-vlan-filtering',
                hint:
                  `attach without @${order.id}, or use an Open vSwitch bridge (ovs*), ` +
                  `which tags ports in user space`,
              },
            ]
          : [],
      prepareCommands: create ? env.ip.describe(undefined, bridgeOps(br)) : [],
      commands: [...env.ip.describe(undefined, hostOps), ...vlanLines.map((l) => `bridge ${l}`)],
      async prepare(undo) {
        if (ownedNow) undo.push('delete created bridge', () => env.releaseOwned({ type: 'link', name: br }));
        const created = create ? await ensureBridge(env, br) : false;
        return created || ownedNow ? [{ type: 'link', name: br }] : [];
      },
      async apply(undo) {
        // The veth and its port settings in one batch (one socket): a name that turned out to be taken
        // (someone else's interface, "File exists") is never deleted; a veth this batch made goes when a
        // later step of it fails, and its undo is registered once the whole batch went through.
        await makeBridgedVeth(env, 'bridge', { order, c, br, hostIfname, hostOps }, undo);
        if (vlanLines.length) {
          if (order.trunk) undo.push('remove trunk VLAN', () => releaseTrunkVlan(env, br, order.trunk!, vid!, ''));
          await runBridgeBatch(env, vlanLines);
        }
        return { hostIfname, ...(order.trunk ? { trunk: order.trunk } : {}) };
      },
    };
  },
  async remove(env, r) {
    // In-process netlink where the agent has it (no exec of ip); gone already is fine, as before.
    if (r.hostIfname) await env.ip.host([{ t: 'del', name: r.hostIfname }]).catch(() => undefined);
    else
      await env.runner.run('nsenter', [`--net=${r.container.netns}`, 'ip', 'link', 'del', r.ifname], {
        allowFail: true,
      });
    if (r.trunk && r.vlan) await releaseTrunkVlan(env, r.hostIf, r.trunk, Number(r.vlan), r.key);
  },
};

/** Takes a VLAN off a trunk once no other attachment on that bridge uses it. */
async function releaseTrunkVlan(
  env: KindEnv,
  br: string,
  trunk: string,
  vid: number,
  exceptKey: string,
): Promise<void> {
  const users = env.records.find(
    (x: AttachmentRecord) => x.key !== exceptKey && x.hostIf === br && x.trunk === trunk && Number(x.vlan) === vid,
  );
  if (users.length) return;
  await runBridgeBatch(env, [line('vlan', 'del', 'dev', trunk, 'vid', vid)], true);
}
