// The veth pair shared by the bridge kinds: host end named deterministically, peer made straight in the container.
import type { ContainerInfo } from '../../containers/types.js';
import { claimContainerIf, reclaimHostIfname } from '../../lifecycle/host-claim.js';
import type { LinkOp } from '../../linux/link-ops.js';
import type { HostLink } from '../../linux/sysfs.js';
import type { AttachOrder } from '../order.js';
import { recordKeyOf } from '../records.js';
import { deleteInNs, type KindEnv } from './types.js';

/** The MTU of a bridge the kernel (or Open vSwitch) makes: a bridge fleetnet creates starts with it. */
const NEW_BRIDGE_MTU = 1500;

/**
 * The MTU of an attachment's host-side port: the container's, but never below the bridge's. The kernel gives a
 * Linux bridge the lowest MTU of its ports (Open vSwitch does the same to its bridge's own interface), so a port
 * at one attach's `--mtu 1400` would lower the bridge for every other port and for every later attach that takes
 * the bridge's MTU. The container's end has the MTU asked for; its host end keeps the bridge's.
 */
export function hostPortMtu(mtu: number, bridge: HostLink | undefined): number {
  return Math.max(mtu, bridge?.mtu ?? NEW_BRIDGE_MTU);
}

/** The veth pair: `mtu` in the container, `hostMtu` (hostPortMtu) on the host end. */
export function vethOp(
  hostIfname: string,
  ifname: string,
  mtu: number,
  mac: string | undefined,
  netns: string,
  hostMtu = mtu,
): LinkOp {
  return {
    t: 'veth',
    name: hostIfname,
    mtu: hostMtu,
    peer: { name: ifname, mtu, ...(mac ? { mac } : {}), netns },
  };
}

const exists = (err: unknown) => /File exists|EEXIST/i.test(String((err as Error)?.message ?? err));

/**
 * Makes the host veth (its name was checked free just before) with the batch that sets it up, and
 * registers its undo. When the batch fails after the kernel made the link (a later step of it), the link
 * is this attach's and goes; when it fails because the name exists ("File exists"), the link is not this
 * attach's and stays, unless `reclaim` proves it fleetnet's own leftover and removes it (true): then the
 * batch runs once more.
 */
export async function makeHostVeth(
  makeOps: () => Promise<unknown>,
  del: () => Promise<unknown>,
  undo: { push(what: string, fn: () => Promise<unknown>): void },
  reclaim: () => Promise<boolean> = async () => false,
): Promise<void> {
  for (let again = true; ; again = false) {
    try {
      await makeOps();
      break;
    } catch (err) {
      if (!exists(err)) await del();
      else if (again && (await reclaim())) continue;
      throw err;
    }
  }
  undo.push('delete host veth', del);
}

/**
 * The bridge kinds' host veth: `hostOps` made in one batch by `makeHostVeth`, deleted by name on a later
 * failure, and on "File exists" reclaimed when the claim proves the pair this attachment's own leftover.
 * With the host-side name free, the clash is the container's interface of that name: refused (exit 2,
 * naming it, untouched) as the kinds made in the container refuse it, or removed when it carries this
 * agent's mark (one of those kinds' leftovers).
 */
export function makeBridgedVeth(
  env: KindEnv,
  kind: 'bridge' | 'ovs',
  at: { order: AttachOrder; c: ContainerInfo; br: string; hostIfname: string; hostOps: LinkOp[] },
  undo: { push(what: string, fn: () => Promise<unknown>): void },
): Promise<void> {
  const { order, c, br, hostIfname } = at;
  const id = order.attachmentId ?? recordKeyOf(c, order.ifname);
  return makeHostVeth(
    () => env.ip.host(at.hostOps),
    () => env.runner.run('ip', ['link', 'del', hostIfname], { allowFail: true }),
    undo,
    async () =>
      (await reclaimHostIfname(env, kind, c, order.ifname, br, hostIfname, id)) ||
      (await reclaimContainerIf(env, c, order.ifname)),
  );
}

/** The container's interface `ifname` is in the way: someone else's is refused, this agent's own removed (true). */
async function reclaimContainerIf(env: KindEnv, c: ContainerInfo, ifname: string): Promise<boolean> {
  if ((await claimContainerIf(env, c, ifname)).kind === 'free') return false;
  env.log.info(
    { container: c.name, ifname },
    "removing this agent's leftover interface in the container to make it again",
  );
  await deleteInNs(env, c.netns, ifname);
  return true;
}
