// The veth pair shared by the bridge kinds: host end named deterministically, peer made straight in the container.
import { line } from '../../linux/ip.js';

export function vethLine(hostIfname: string, ifname: string, mtu: number, mac: string | undefined, netns: string): string {
  return line('link', 'add', hostIfname, 'mtu', mtu, 'type', 'veth', 'peer', 'name', ifname, 'mtu', mtu, ...(mac ? ['address', mac] : []), 'netns', netns);
}
