// The veth pair shared by the bridge kinds: host end named deterministically, peer made straight in the container.
import type { ContainerInfo } from '../../containers/types.js';
import { reclaimHostIfname } from '../../lifecycle/host-claim.js';
import type { LinkOp } from '../../linux/link-ops.js';
import type { AttachOrder } from '../order.js';
import { recordKeyOf } from '../records.js';
import type { KindEnv } from './types.js';

export function vethOp(
  hostIfname: string,
  ifname: string,
  mtu: number,
  mac: string | undefined,
  netns: string,
): LinkOp {
  return { t: 'veth', name: hostIfname, mtu, peer: { name: ifname, mtu, ...(mac ? { mac } : {}), netns } };
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
 */
export function makeBridgedVeth(
  env: KindEnv,
  kind: 'bridge' | 'ovs',
  at: { order: AttachOrder; c: ContainerInfo; br: string; hostIfname: string; hostOps: LinkOp[] },
  undo: { push(what: string, fn: () => Promise<unknown>): void },
): Promise<void> {
  const { order, c, br, hostIfname } = at;
  return makeHostVeth(
    () => env.ip.host(at.hostOps),
    () => env.runner.run('ip', ['link', 'del', hostIfname], { allowFail: true }),
    undo,
    () =>
      reclaimHostIfname(env, kind, c, order.ifname, br, hostIfname, order.attachmentId ?? recordKeyOf(c, order.ifname)),
  );
}
