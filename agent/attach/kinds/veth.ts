// The veth pair shared by the bridge kinds: host end named deterministically, peer made straight in the container.
import type { LinkOp } from '../../linux/link-ops.js';

export function vethOp(hostIfname: string, ifname: string, mtu: number, mac: string | undefined, netns: string): LinkOp {
  return { t: 'veth', name: hostIfname, mtu, peer: { name: ifname, mtu, ...(mac ? { mac } : {}), netns } };
}
