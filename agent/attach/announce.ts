// The container interface's own settings, and the announcement of its static addresses. The kernel
// sends them itself — a gratuitous ARP for each IPv4 address (arp_notify) and an unsolicited neighbour
// advertisement for each IPv6 address (ndisc_notify) when the interface comes up or changes its MAC
// (net/ipv4/devinet.c, net/ipv6/ndisc.c) — so no helper process runs per address.
//
// Coming up is enough where the first hop already passes frames (macvlan, IPoIB). A veth's host end
// is not: it gets its carrier in the same call that brings the container end up, and the bridge (or
// OVS) learns of it only later, from the kernel's link watcher, so the announcement sent at up is
// dropped at the still-disabled port. For those the interface comes up quiet, and once the port
// passes frames the announcements are turned on and its MAC is set again to the value it has: the
// kernel runs its address-change notifiers even for an unchanged MAC (net/core/dev.c
// netif_set_mac_address), so it announces once, with the real MAC, and no other MAC ever shows.
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import type { AddressSpec } from '../../common/attach-args.js';
import type { IpExec } from '../linux/ip.js';
import type { LinkOp } from '../linux/link-ops.js';
import { portForwarding } from '../linux/sysfs.js';

type Static = Extract<AddressSpec, { kind: 'static' }>;

const families = (statics: Static[]) => ({
  v4: statics.some((a) => a.cidr.addr.family === 4),
  v6: statics.some((a) => a.cidr.addr.family === 6),
});

/** IPv6 needs an MTU of at least 1280: below it a link has no IPv6 state to configure (RFC 8200). */
const IPV6_MIN_MTU = 1280;
let ipv6Kernel: boolean | undefined;

/**
 * Whether a new interface with this MTU is made without an IPv6 link-local address (addrGenMode 'none'):
 * every attached interface that makes one sends duplicate address detection, MLD reports and router
 * solicitations, and on a bridge those are flooded to every port, so each attach would cost work in
 * every other attached namespace (a host's size). `addresses`: the container side's own (it keeps its
 * link-local whenever it is given IPv6 or DHCP, or no address at all); undefined for a host-side port,
 * whose own IPv6 nobody uses (its frames go only to the container). False on a kernel without IPv6.
 */
export function quietIpv6(mtu: number, addresses?: AddressSpec[]): boolean {
  if (addresses && !(addresses.length && addresses.every((a) => a.kind === 'static' && a.cidr.addr.family === 4)))
    return false;
  ipv6Kernel ??= existsSync('/proc/sys/net/ipv6');
  return ipv6Kernel && mtu >= IPV6_MIN_MTU;
}

/**
 * The devconf set while the interface `dev` (its name when made) is still down: IPv6 on where it has
 * IPv6 addresses (Docker turns it off, all and default, in its containers), the announcements on when
 * they are to be sent at up. Undefined when there is nothing to set.
 */
export function announceConf(dev: string, statics: Static[], atUp: boolean): LinkOp | undefined {
  const { v4, v6 } = families(statics);
  if (!v6 && !(atUp && v4)) return undefined;
  return {
    t: 'devconf',
    dev,
    ...(v6 ? { ipv6On: true } : {}),
    ...(atUp && v4 ? { arpNotify: true } : {}),
    ...(atUp && v6 ? { ndiscNotify: true } : {}),
  };
}

/** The operations that make the kernel announce `dev`'s addresses with `mac`, its own (the announcements still off). */
export function announceOps(dev: string, mac: string, statics: Static[]): LinkOp[] {
  const { v4, v6 } = families(statics);
  return [
    { t: 'devconf', dev, ...(v4 ? { arpNotify: true } : {}), ...(v6 ? { ndiscNotify: true } : {}) },
    { t: 'set', name: dev, mac },
  ];
}

const POLL_MS = 2;
const GIVE_UP_MS = 2000;

export interface AnnounceTarget {
  netns: string;
  dev: string;
  mac: string;
  statics: Static[];
  /** The host-side veth, and whether it is a Linux bridge port (else: an OVS port). */
  hostIfname: string;
  bridgePort: boolean;
}

/**
 * In the background (the reply does not wait): once the host-side port passes frames, the kernel
 * announces the addresses (announceOps). `exclusive` runs the change under the attachment's own queue,
 * and only while the interface is still the one announced (a detach and a new attach of the same name
 * may have come between: that one's MAC is never touched). Resolves when done or given up; never rejects.
 */
export async function announceWhenForwarding(
  d: { ip: IpExec; log: Logger; sysClassNet?: string },
  t: AnnounceTarget,
  exclusive: (fn: () => Promise<void>) => Promise<void>,
): Promise<void> {
  const { v4, v6 } = families(t.statics);
  if (!v4 && !v6) return;
  const until = Date.now() + GIVE_UP_MS;
  // One interval first, also when the port already forwards: the reply goes out before the broadcast,
  // whose flood to every port of the bridge (work that grows with the host) runs on the netlink thread.
  do await new Promise((r) => setTimeout(r, POLL_MS));
  while (!portForwarding(t.hostIfname, t.bridgePort, d.sysClassNet) && Date.now() < until);
  try {
    await exclusive(async () => {
      await d.ip.inNs(t.netns, announceOps(t.dev, t.mac, t.statics));
    });
  } catch (err) {
    d.log.debug({ err, dev: t.dev, netns: t.netns }, 'addresses not announced');
  }
}
