// Typed link operations carried out in-process over route netlink instead of by two execs of `ip`.
// The operations handled here are those of the bridge and OVS veth attach (NETLINK_OPS); a batch
// holding any other runs through `ip -batch` (the text renderer) as a whole, so what an attach does
// never depends on which path ran it. --dry-run prints the iproute2 text: the exact equivalent an
// operator can run by hand.
import type { IpExec } from './ip.js';
import { deleteLinkWatched } from './link-delete.js';
import type { LinkOp } from './link-ops.js';
import { runBatch, type OpHook } from './netlink-batch.js';
import type { NetlinkThread } from './netlink-thread.js';
import type { Rtnl } from './rtnetlink.js';

export type { OpHook } from './netlink-batch.js';

/** The operations this renderer carries out itself. */
export const NETLINK_OPS: ReadonlySet<LinkOp['t']> = new Set([
  'veth',
  'bridge',
  'set',
  'del',
  'addr-add',
  'default-via',
  'addr-show',
  'devconf',
]);

/**
 * An IpExec that carries out the lines fleetnet writes over route netlink (a socket per batch, in
 * the batch's namespace), falling back to `fallback` (execs of `ip`) for any other batch.
 * `hostNetns`: the namespace host() acts in (the agent's own when undefined; tests give a test host's).
 */
export function netlinkIp(
  rt: Rtnl,
  fallback: IpExec,
  opts: { hostNetns?: string; hook?: OpHook; thread?: NetlinkThread } = {},
): IpExec & { inProcess: number; execs: number } {
  const stats = { inProcess: 0, execs: 0 };
  const run = async (
    netns: string | undefined,
    ops: LinkOp[],
    viaExec: () => Promise<unknown[][]>,
  ): Promise<unknown[][]> => {
    if (ops.some((o) => !NETLINK_OPS.has(o.t))) {
      stats.execs++;
      return viaExec();
    }
    // A lone delete (a detach): an exec watched over netlink answers as soon as the link is gone.
    if (ops.length === 1 && ops[0]!.t === 'del') {
      stats.execs++;
      return deleteLinkWatched(rt, netns, ops[0]!.name, viaExec);
    }
    stats.inProcess++;
    // On the netlink thread when the agent has one (and no test hook watches each operation).
    if (opts.thread && !opts.hook) return opts.thread.run(netns, ops);
    return runBatch(rt, netns, ops, opts.hook);
  };
  return Object.assign(stats, {
    host: (ops: LinkOp[]) => run(opts.hostNetns, ops, () => fallback.host(ops)),
    inNs: (netns: string, ops: LinkOp[], o: { family?: 4 | 6 } = {}) =>
      o.family ? fallback.inNs(netns, ops, o) : run(netns, ops, () => fallback.inNs(netns, ops, o)),
    describe: fallback.describe.bind(fallback),
  });
}
