// Deleting a link and answering once it is gone, not once the kernel has finished with it.
// Within a millisecond or two of `ip link del`, the kernel takes the link (both ends of a veth)
// out of its bridge, drops its addresses and its name, and announces RTM_DELLINK; only then does
// the request wait for RCU callbacks (rcu_barrier in netdev_run_todo) before it returns: 15 ms
// on a quiet machine, 100 ms and more on a busy one. A netlink request from the agent would sit
// that out on the agent's only thread; so the delete runs as an `ip` exec, watched from a netlink
// socket subscribed to link changes. The first of "announced gone" and "ip exited" answers; the
// exec finishes on its own (nothing of the link is left for it to do but wait).
import type { Rtnl } from './rtnetlink.js';

/** Bounds a request on a wedged socket only (the kernel answers in microseconds). */
const T = { timeout: 10_000 };

/**
 * Deletes link `name` in `netns` (the agent's own when undefined) with `viaExec` (an `ip` exec of
 * that one delete), resolving when the kernel announces it gone or when the exec ends, whichever
 * is first; a failed exec rejects as before. A link that cannot be looked up is left to the exec
 * (which says what is wrong).
 */
export async function deleteLinkWatched(
  rt: Rtnl,
  netns: string | undefined,
  name: string,
  viaExec: () => Promise<unknown[][]>,
): Promise<unknown[][]> {
  const mon = rt.open(netns);
  mon.socket.on('error', () => {}); // e.g. ENOBUFS under a burst of link changes: the exec still answers
  try {
    const index = await mon.getLink({}, { ifname: name }, T).then(
      (l) => l[0]?.data.index,
      () => undefined,
    );
    if (!index) return await viaExec();
    // Subscribed before the delete starts: its announcement cannot be missed, only (a full
    // receive buffer) dropped, and then the exec's end answers.
    mon.addMembership('LINK');
    const { MessageType, parseMessage } = rt.nl.rt;
    const gone = new Promise<void>((resolve) => {
      mon.socket.on('message', (msgs) => {
        for (const m of msgs) {
          if (
            m.type === MessageType.DELLINK &&
            (parseMessage(m.type, m.data) as { data: { index?: number } }).data.index === index
          )
            resolve();
        }
      });
    });
    const done = viaExec();
    done.catch(() => {}); // it may end after the answer; its failure, if it comes first, is the answer
    await Promise.race([done, gone]);
    return [];
  } finally {
    mon.socket.close();
  }
}
