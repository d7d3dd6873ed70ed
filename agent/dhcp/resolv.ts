// --dhcp-dns: the lease's DNS servers go into the container's OWN resolv.conf, never the machine's.
import { statSync, writeFileSync } from 'node:fs';
import { failed } from '../../common/errors.js';
import type { Lease } from './types.js';

export function resolvConfText(l: Lease): string {
  return [
    `# written by fleetnet from the DHCP lease on ${l.ifname} (${l.client})`,
    ...l.dns.map((d) => `nameserver ${d}`),
    '',
  ].join('\n');
}

/**
 * Writes through /proc/PID/root, in place (Docker bind-mounts the file, so it cannot be renamed over).
 * Refuses when the process shares the machine's root: that file would be the machine's own.
 */
export function writeContainerResolvConf(pid: number, l: Lease, procRoot = '/proc'): void {
  if (!pid)
    throw failed(`--dhcp-dns needs a container with a filesystem of its own; ${l.ifname}'s target has no process`);
  const root = statSync(`${procRoot}/${pid}/root/`);
  const host = statSync('/');
  if (root.dev === host.dev && root.ino === host.ino)
    throw failed(
      `process ${pid} shares the machine's root filesystem; its resolv.conf is the ` +
        `machine's, so fleetnet leaves it alone`,
    );
  writeFileSync(`${procRoot}/${pid}/root/etc/resolv.conf`, resolvConfText(l));
}
