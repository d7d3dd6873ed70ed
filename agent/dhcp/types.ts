// The DHCP supervisor's vocabulary: what to run, and what a client learned.
import type { DhcpClient } from '../../common/attach-args.js';

export type { DhcpClient };

/** Whose namespace a client lives in; the client must not outlive it. */
export interface DhcpOwner {
  /** Docker container ID when the target is a Docker container (events and the helper need it). */
  containerId?: string;
  /** The target's process and its start time (clock ticks): the namespace lives while it does. */
  pid?: number;
  pidStart?: string;
  /** `dev:ino` of the network namespace, checked when there is no process to follow. */
  nsKey: string;
}

export interface DhcpStartSpec {
  /** One client per key: the attachment's `nsKey/ifname`. */
  key: string;
  netns: string;
  ifname: string;
  client: DhcpClient;
  /** What followed `client:` in the attach, checked against the client's allowlist. */
  options: string;
  /** Sent as the DHCP host name (the container's name); omitted when it is not a valid host name. */
  hostname?: string;
  mac?: string;
  /** Write the lease's DNS servers into the container's own resolv.conf. */
  dns: boolean;
  /** pipework's old behaviour: take one lease, then stop the client (no renewals). */
  oneshot: boolean;
  owner: DhcpOwner;
}

export interface Lease {
  key: string;
  client: DhcpClient;
  ifname: string;
  /** Interface address with prefix, e.g. 10.1.1.50/24. */
  address: string;
  router: string;
  dns: string[];
  leaseSeconds: number;
  obtainedUnixMs: number;
  expiresUnixMs: number;
  /** The client's PID (for `dhcp`, the helper container's udhcpc); 0 when stopped (oneshot). */
  clientPid: number;
  /** Docker ID of the helper container (`dhcp` only). */
  helperId?: string;
}

/** What the agent keeps on disk per client, so that a restarted agent can adopt it. */
export interface ClientRecord {
  spec: DhcpStartSpec;
  pid: number;
  /** Start time of `pid` (field 22 of /proc/PID/stat) when the agent started it. */
  pidStart: string;
  helperId?: string;
  /** Last address held, asked for again when the client is restarted. */
  lastAddress?: string;
  stopped?: boolean;
}

export type LeaseEvent =
  | { type: 'lease'; lease: Lease }
  | { type: 'lost'; key: string; reason: string }
  | { type: 'restarted'; key: string; pid: number; attempt: number }
  /** `ownerGone`: the container (namespace owner) went away, not a detach. */
  | { type: 'stopped'; key: string; reason: string; ownerGone: boolean };
