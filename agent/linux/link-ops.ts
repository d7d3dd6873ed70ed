// Typed link operations: what an attach does to links, addresses and routes, as values. The attach
// kinds produce them; two renderers carry them out: route netlink in-process (ip-netlink.ts, the
// default) and iproute2 batch text (renderOp below: `--dry-run`, and `--ip-path exec` through
// `ip -batch`). Nothing parses this text back.
import type { Cidr, IpAddr } from '../../common/ip.js';
import { line } from './ip-line.js';

export type LinkOp =
  /**
   * A veth pair; the peer is made straight inside `peer.netns` (no move). Both ends are made with one
   * queue each way (VETH_QUEUES).
   */
  | {
      t: 'veth';
      name: string;
      mtu?: number;
      mac?: string;
      peer: { name: string; mtu?: number; mac?: string; netns?: string };
    }
  | { t: 'bridge'; name: string; mac?: string }
  | { t: 'bridge-vlan-filtering'; name: string }
  | { t: 'macvlan'; name: string; link: string; mtu: number; mac?: string; netns: string; mode: string }
  | { t: 'ipoib'; name: string; link: string; mtu: number; netns: string; pkey: number }
  | { t: 'dummy'; name: string; mtu: number; mac?: string; netns: string }
  | { t: 'vlan'; name: string; link: string; id: number }
  | {
      t: 'set';
      name: string;
      master?: string;
      alias?: string;
      rename?: string;
      mtu?: number;
      mac?: string;
      up?: boolean;
      /**
       * 'none': the link makes no IPv6 link-local address, so it sends no IPv6 frames of its own (duplicate
       * address detection, MLD reports, router solicitations). In the message that brings it up, the kernel
       * applies it before the link is ready for addresses (the link watcher needs the lock this message holds).
       */
      addrGenMode?: 'none';
    }
  | { t: 'del'; name: string }
  | { t: 'addr-add'; cidr: Cidr; dev: string; nodad: boolean }
  /** `route replace default via GW dev DEV`: replaces the default route of the gateway's family. */
  | { t: 'default-via'; gw: IpAddr; dev: string }
  /** Reads the link and its addresses back (as `ip -json addr show dev DEV` prints them). */
  | { t: 'addr-show'; dev: string }
  /**
   * Per-interface settings, set while the link is still down (first in its batch): IPv6 on (Docker turns it
   * off in its containers), and the kernel's own announcements when the link comes up — a gratuitous ARP
   * for each IPv4 address (arp_notify), an unsolicited neighbour advertisement for each IPv6 address
   * (ndisc_notify) — instead of a helper process per address. Not an `ip` line: `sysctl` (devconfSysctl).
   */
  | { t: 'devconf'; dev: string; ipv6On?: boolean; arpNotify?: boolean; ndiscNotify?: boolean };

/** The `sysctl -w` settings of a devconf operation, in the order they are written. */
export function devconfSettings(op: Extract<LinkOp, { t: 'devconf' }>): [key: string, value: string][] {
  const dev = line(op.dev);
  return [
    ...(op.ipv6On ? [[`net/ipv6/conf/${dev}/disable_ipv6`, '0'] as [string, string]] : []),
    ...(op.arpNotify ? [[`net/ipv4/conf/${dev}/arp_notify`, '1'] as [string, string]] : []),
    ...(op.ndiscNotify ? [[`net/ipv6/conf/${dev}/ndisc_notify`, '1'] as [string, string]] : []),
  ];
}

/** The argv after `sysctl` that carries out a devconf operation (the text path and --dry-run). */
export function devconfSysctl(op: Extract<LinkOp, { t: 'devconf' }>): string[] {
  return ['-q', '-w', ...devconfSettings(op).map(([k, v]) => `${k}=${v}`)];
}

/** The command a person would run for one operation: `ip LINE`, or `sysctl -q -w …` for a devconf. */
export function commandText(op: LinkOp): string {
  return op.t === 'devconf' ? `sysctl ${devconfSysctl(op).join(' ')}` : `ip ${renderOp(op)}`;
}

const opt = (k: string, v: string | number | undefined): (string | number)[] => (v === undefined ? [] : [k, v]);

/**
 * The queues each end of a veth is made with, each way (`numtxqueues 1 numrxqueues 1`). The kernel's default
 * allocates one per possible CPU and, the device registered, cuts the queues in use back to one (veth_init_queues),
 * which removes the extra queues' sysfs entries and waits for an expedited RCU grace period under the RTNL lock:
 * twice per pair. Made with one, the pair has the same queue in use (rx-0, tx-0) and no cut; what differs is only
 * the most `ethtool -L` could later raise it to.
 */
export const VETH_QUEUES = 1;
const vethQueues = ['numtxqueues', VETH_QUEUES, 'numrxqueues', VETH_QUEUES];

/** The iproute2 batch line of one operation (what `ip -batch` reads, and what --dry-run prints after `ip`). */
export function renderOp(op: LinkOp): string {
  switch (op.t) {
    case 'veth':
      return line(
        'link',
        'add',
        op.name,
        ...vethQueues,
        ...opt('mtu', op.mtu),
        ...opt('address', op.mac),
        'type',
        'veth',
        'peer',
        'name',
        op.peer.name,
        ...vethQueues,
        ...opt('mtu', op.peer.mtu),
        ...opt('address', op.peer.mac),
        ...opt('netns', op.peer.netns),
      );
    case 'bridge':
      return line('link', 'add', op.name, ...opt('address', op.mac), 'type', 'bridge');
    case 'bridge-vlan-filtering':
      return line('link', 'set', op.name, 'type', 'bridge', 'vlan_filtering', 1);
    case 'macvlan':
      return line(
        'link',
        'add',
        op.name,
        'link',
        op.link,
        'mtu',
        op.mtu,
        ...opt('address', op.mac),
        'netns',
        op.netns,
        'type',
        'macvlan',
        'mode',
        op.mode,
      );
    case 'ipoib':
      return line(
        'link',
        'add',
        'link',
        op.link,
        'name',
        op.name,
        'mtu',
        op.mtu,
        'netns',
        op.netns,
        'type',
        'ipoib',
        'pkey',
        `0x${op.pkey.toString(16)}`,
      );
    case 'dummy':
      return line('link', 'add', op.name, 'mtu', op.mtu, ...opt('address', op.mac), 'netns', op.netns, 'type', 'dummy');
    case 'vlan':
      return line('link', 'add', 'link', op.link, 'name', op.name, 'type', 'vlan', 'id', op.id);
    case 'set':
      return line(
        'link',
        'set',
        op.name,
        ...opt('master', op.master),
        ...opt('alias', op.alias),
        ...opt('name', op.rename),
        ...opt('mtu', op.mtu),
        ...opt('address', op.mac),
        ...opt('addrgenmode', op.addrGenMode),
        ...(op.up === undefined ? [] : [op.up ? 'up' : 'down']),
      );
    case 'del':
      return line('link', 'del', op.name);
    case 'addr-add':
      return line('addr', 'add', op.cidr.text, 'dev', op.dev, ...(op.nodad ? ['nodad'] : []));
    case 'default-via':
      return line('route', 'replace', 'default', 'via', op.gw.text, 'dev', op.dev);
    case 'addr-show':
      return line('addr', 'show', 'dev', op.dev);
    case 'devconf':
      throw new Error('a devconf operation is not an ip line: render it with devconfSysctl');
  }
}
