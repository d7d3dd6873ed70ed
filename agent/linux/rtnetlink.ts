// Route netlink sockets in any network namespace, in-process: the `netlink` package speaks the
// protocol, and `koffi` calls setns(2) so that a socket is opened inside a container's namespace.
// A netlink socket belongs to the namespace it was created in for its whole life, so the calling
// thread only visits the target namespace for the socket() call and comes straight back; nothing
// else runs in between (it is all synchronous on the main thread).
import { closeSync, openSync } from 'node:fs';
import { createRequire } from 'node:module';
import { failed } from '../../common/errors.js';

type NetlinkModule = typeof import('netlink');
export type RtSocket = ReturnType<NetlinkModule['createRtNetlink']>;

const CLONE_NEWNET = 0x40000000;

export interface Rtnl {
  readonly nl: NetlinkModule;
  /** A socket in the namespace at `netns` (a path), or in the agent's own when undefined. */
  open(netns?: string): RtSocket;
  /** An open file descriptor of a namespace (for IFLA_NET_NS_FD); the caller closes it. */
  nsFd(netns: string): number;
}

/**
 * Loads the native pieces, or says why they cannot be used (the self-contained agent file that
 * `host add --ssh` uploads carries no native modules: that agent runs `ip` instead).
 */
export function loadRtnl(): Rtnl | string {
  let nl: NetlinkModule;
  let setns: (fd: number, type: number) => number;
  try {
    const req = createRequire(import.meta.url);
    nl = req('netlink') as NetlinkModule;
    const koffi = req('koffi') as typeof import('koffi');
    setns = koffi.load('libc.so.6').func('int setns(int fd, int nstype)') as (fd: number, type: number) => number;
  } catch (err) {
    return `in-process netlink unavailable (${(err as Error).message.split('\n')[0]})`;
  }
  // The thread's own namespace, held open for the agent's life: where every visit returns to.
  const home = openSync('/proc/thread-self/ns/net', 'r');
  const nsFd = (netns: string) => {
    try {
      return openSync(netns, 'r');
    } catch (err) {
      throw failed(
        `cannot open network namespace ${netns}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
        err,
      );
    }
  };
  return {
    nl,
    nsFd,
    open(netns) {
      if (netns === undefined) return nl.createRtNetlink();
      const fd = nsFd(netns);
      try {
        if (setns(fd, CLONE_NEWNET) !== 0) throw failed(`setns into ${netns} failed`);
        try {
          return nl.createRtNetlink();
        } finally {
          // Staying in the container's namespace would send every later request there: give up.
          if (setns(home, CLONE_NEWNET) !== 0) {
            process.stderr.write('fleetnet-agent: could not return to its own network namespace; exiting\n');
            process.exit(70);
          }
        }
      } finally {
        closeSync(fd);
      }
    },
  };
}
