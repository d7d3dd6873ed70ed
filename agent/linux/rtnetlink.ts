// Route netlink sockets in any network namespace, in-process: the `netlink` package speaks the
// protocol, and `koffi` calls setns(2) so that a socket is opened inside a container's namespace.
// A netlink socket belongs to the namespace it was created in for its whole life, so the calling
// thread only visits the target namespace for the socket() call and comes straight back; nothing
// else runs in between (it is all synchronous on that thread: the agent's netlink thread, or the
// main thread where there is none). setns(2) moves only the thread that calls it.
import { closeSync, openSync, writeSync } from 'node:fs';
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
  /**
   * Writes `/proc/sys/KEY` files (KEY as `net/ipv6/conf/eth1/ndisc_notify`) as seen from inside `netns`
   * (the agent's own when undefined): the settings the kernel does not take over netlink (IPv6 devconf).
   */
  writeSysctl(netns: string | undefined, settings: [key: string, value: string][]): void;
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
  /** fn run on this thread inside `netns` (synchronously: nothing else runs meanwhile), then back home. */
  const inNs = <T>(netns: string | undefined, fn: () => T): T => {
    if (netns === undefined) return fn();
    const fd = nsFd(netns);
    try {
      if (setns(fd, CLONE_NEWNET) !== 0) throw failed(`setns into ${netns} failed`);
      try {
        return fn();
      } finally {
        // Staying in the container's namespace would send every later request there: give up (on the
        // netlink thread this ends that thread only, and its batches go to the main thread).
        if (setns(home, CLONE_NEWNET) !== 0) {
          process.stderr.write('fleetnet-agent: could not return to its own network namespace; exiting\n');
          process.exit(70);
        }
      }
    } finally {
      closeSync(fd);
    }
  };
  return {
    nl,
    nsFd,
    open: (netns) => inNs(netns, () => nl.createRtNetlink()),
    // /proc/sys/net shows the namespace of the thread that opens a file there.
    writeSysctl: (netns, settings) =>
      inNs(netns, () => {
        for (const [key, value] of settings) {
          const fd = openSync(`/proc/sys/${key}`, 'w');
          try {
            writeSync(fd, value);
          } finally {
            closeSync(fd);
          }
        }
      }),
  };
}
