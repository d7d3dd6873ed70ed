export type Runtime = 'docker' | 'lxc' | 'pid' | 'netns';

/** A container resolved to its network namespace. */
export interface ContainerInfo {
  runtime: Runtime;
  /** Docker ID, LXC name, netns name, or the PID for a bare process. */
  id: string;
  name: string;
  /** 0 when the target is a named netns or a path with no process behind it. */
  pid: number;
  /** A path that opens the network namespace (`/proc/PID/ns/net` or `/run/netns/NAME`). */
  netns: string;
  /** `dev:ino` of the namespace: one key for a namespace, whichever way it was named. */
  nsKey: string;
}

/** A container as a person names it in a message: `container web1`, `netns blue`, `pid 4242`. */
export function describeContainer(c: ContainerInfo): string {
  return c.runtime === 'docker'
    ? `container ${c.name}`
    : c.runtime === 'netns'
      ? `netns ${c.name}`
      : `${c.runtime} ${c.name}`;
}
