// What the mesh firewall must let through (the peers, the kernel tunnels' ports), shared by the
// nftables and iptables back ends, with the one check of its values.
import { FleetnetError } from '../../common/errors.js';
import { tryParseAddr } from '../../common/ip.js';

export interface FirewallState {
  peers: string[];
  ports: number[];
}

export function checkFirewallState(s: FirewallState): void {
  for (const p of s.peers)
    if (tryParseAddr(p)?.family !== 4)
      throw new FleetnetError('invalid', `firewall peer '${p}' is not an IPv4 address`);
  for (const p of s.ports)
    if (!Number.isInteger(p) || p < 1 || p > 65535)
      throw new FleetnetError('invalid', `firewall port ${p} is not 1..65535`);
}
