// Before an attach makes its host-side veth: is the name free, taken by something that is not
// fleetnet's (refused, untouched), or fleetnet's own from an earlier run of this attachment
// (adopted when it is what was asked, else removed and made again)?
import { invalid } from '../../common/errors.js';
import { hostIfName } from '../../common/ifname.js';
import type { ContainerInfo } from '../containers/types.js';
import { masterOf, readHostLink, type HostLink } from '../linux/sysfs.js';
import { OVS_PORT_KEYS, OvsCtl } from '../ovs/vsctl.js';
import type { KindEnv } from '../attach/kinds/types.js';
import type { HostIfKind } from '../attach/order.js';

export type Claim = { kind: 'free' } | { kind: 'ours'; link: HostLink };

/** An OVS port's fleetnet attachment id ('' when none or no such port). */
async function portAttachment(ovs: OvsCtl, port: string): Promise<string> {
  const out = await ovs
    .run('--if-exists', 'get', 'port', port, `external_ids:${OVS_PORT_KEYS.attachment}`)
    .catch(() => '');
  return out.trim().replace(/^"|"$/g, '');
}

/**
 * `hostIfname` is ours when it is the name fleetnet derives for this container and interface (its
 * name scheme), or an OVS port tagged with this attachment's id. Anything else is refused (exit 2).
 */
export async function claimHostIfname(
  env: KindEnv,
  kind: HostIfKind,
  c: Pick<ContainerInfo, 'runtime' | 'id' | 'name'>,
  ifname: string,
  hostIfname: string,
  attachmentId: string,
): Promise<Claim> {
  if (kind !== 'bridge' && kind !== 'ovs') return { kind: 'free' }; // the others make their interface in the container
  const link = readHostLink(hostIfname, env.sysClassNet);
  if (!link) return { kind: 'free' };
  if (hostIfname === hostIfName(c.runtime, c.id, ifname)) return { kind: 'ours', link };
  if (kind === 'ovs' && (await portAttachment(env.ovs, hostIfname)) === attachmentId) return { kind: 'ours', link };
  const master = masterOf(hostIfname, env.sysClassNet);
  throw invalid(
    `host interface ${hostIfname} already exists (${link.kind === 'bridge' ? 'a bridge' : 'an interface'}, MAC ` +
      `${link.mac}${master ? `, port of ${master}` : ''}) and fleetnet did not make it for ${c.name}`,
    `it is left as it is; pick another host-side name with -l, or leave -l out for a generated one`,
  );
}

/** Is an existing host-side veth plugged where this attach wants it? */
export async function pluggedAsAsked(
  env: KindEnv,
  kind: HostIfKind,
  hostIf: string,
  hostIfname: string,
): Promise<boolean> {
  if (kind === 'bridge') return masterOf(hostIfname, env.sysClassNet) === hostIf;
  const br = (await env.ovs.run('port-to-br', hostIfname).catch(() => '')).trim();
  return br === hostIf;
}

/** Removes fleetnet's own leftover host side (an OVS port and its veth; the container end goes with it). */
export async function removeHostSide(
  env: KindEnv,
  kind: HostIfKind,
  hostIf: string,
  hostIfname: string,
): Promise<void> {
  if (kind === 'ovs') await env.ovs.run(...OvsCtl.delPortArgs(hostIf, hostIfname)).catch(() => undefined);
  if (readHostLink(hostIfname, env.sysClassNet))
    await env.runner.run('ip', ['link', 'del', hostIfname], { allowFail: true });
}

/**
 * The veth's make answered "File exists" although `hostIfname` was free when the attach claimed it: the pair
 * appeared in between (made by something other than this attach, e.g. the `ip -batch` child of an agent killed
 * with kill -9, which outlives it). What the claim proves fleetnet's own (the name scheme, the OVS port's
 * attachment id) goes, and the attach makes it once more (true); someone else's host interface is refused as at
 * the claim (exit 2, untouched); a name still free means the clash is in the container (its interface of that
 * name, not provably ours), which stays: false, the error stands.
 */
export async function reclaimHostIfname(
  env: KindEnv,
  kind: HostIfKind,
  c: Pick<ContainerInfo, 'runtime' | 'id' | 'name'>,
  ifname: string,
  hostIf: string,
  hostIfname: string,
  attachmentId: string,
): Promise<boolean> {
  const claim = await claimHostIfname(env, kind, c, ifname, hostIfname, attachmentId);
  if (claim.kind === 'free') return false;
  env.log.info({ hostIfname, ifname }, 'a veth of this attachment appeared after its claim: removed, made again');
  await removeHostSide(env, kind, hostIf, hostIfname);
  return true;
}

/**
 * Kinds made only in the container (macvlan, IPoIB, dummy): its interface name is free, fleetnet's own
 * from an earlier run (it carries this agent's alias mark), or someone else's (refused, exit 2, untouched).
 */
export async function claimContainerIf(
  env: KindEnv,
  c: Pick<ContainerInfo, 'name' | 'netns'>,
  ifname: string,
): Promise<Claim> {
  const argv = [`--net=${c.netns}`, 'ip', '-json', 'link', 'show', 'dev', ifname];
  const r = await env.runner.run('nsenter', argv, { allowFail: true });
  if (r.code !== 0) return { kind: 'free' };
  const [l] = JSON.parse(r.stdout || '[]') as { ifalias?: string; address?: string; mtu?: number }[];
  if (!l) return { kind: 'free' };
  const link: HostLink = { name: ifname, kind: 'other', mac: l.address ?? '', mtu: l.mtu ?? 0, alias: l.ifalias ?? '' };
  if (env.ownerMark && l.ifalias === env.ownerMark) return { kind: 'ours', link };
  throw invalid(
    `${c.name} already has an interface ${ifname} (MAC ${l.address ?? '?'}) that fleetnet did not make`,
    `it is left as it is; name another interface with -i, or remove ${ifname} from the container first`,
  );
}
