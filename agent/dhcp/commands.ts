// The exact command each client kind runs, and the files it is given (pure: argv-exact tests).
// Every client runs in the foreground, in the container's network namespace, with fleetnet's hook
// and its own pid, lease and configuration files in its own state directory.
import { unsupported } from '../../common/errors.js';
import type { DhcpClient, DhcpStartSpec } from './types.js';

export interface ClientFiles {
  /** The client's own state directory (hook copy, lease, pid, conf). */
  dir: string;
  /** deploy/dhcp-private-ns (dhcpcd only). */
  privateNs: string;
}

export interface Command {
  cmd: string;
  args: string[];
}

/** Debian package that provides each host client, named in the error when it is missing. */
export const PACKAGE: Record<Exclude<DhcpClient, 'dhcp'>, string> = {
  udhcpc: 'udhcpc',
  dhclient: 'isc-dhcp-client',
  dhcpcd: 'dhcpcd-base',
};

/** Where dhcpcd sees its state directory inside its private mount namespace. */
export const DHCPCD_DB = '/var/lib/dhcpcd';

export function missingClient(client: Exclude<DhcpClient, 'dhcp'>): Error {
  return unsupported(
    `${client} is not installed on this host`,
    `install the Debian package ${PACKAGE[client]} (apt-get install ${PACKAGE[client]}), or use another client`,
  );
}

/** Files the client reads, written into its state directory before it starts. */
export function clientConfig(spec: DhcpStartSpec): { name: string; text: string } | undefined {
  if (spec.client === 'dhclient') {
    const lines = [
      ...(spec.hostname ? [`send host-name "${spec.hostname}";`] : []),
      'request subnet-mask, broadcast-address, routers, domain-name-servers, domain-name, interface-mtu;',
    ];
    return { name: 'dhclient.conf', text: lines.join('\n') + '\n' };
  }
  if (spec.client === 'dhcpcd') {
    // clientid: the MAC identifies the client (a U: MAC keeps its lease); no DUID file to lose.
    const lines = [
      'clientid',
      'ipv4only',
      'noipv4ll',
      'noipv6rs',
      'option domain_name_servers, domain_name, routers, subnet_mask, interface_mtu',
    ];
    return { name: 'dhcpcd.conf', text: lines.join('\n') + '\n' };
  }
  return undefined;
}

/** The host-client command (not `dhcp`, which runs in a helper container). */
export function hostClientCommand(
  spec: DhcpStartSpec,
  files: ClientFiles,
  extra: readonly string[],
  lastAddress?: string,
): Command {
  const ns = `--net=${spec.netns}`;
  const d = files.dir;
  const ask = askFor(extra, lastAddress);
  switch (spec.client) {
    case 'udhcpc':
      return { cmd: 'nsenter', args: [ns, ...udhcpcArgs(spec, `${d}/hook`, ['-p', `${d}/udhcpc.pid`], extra, ask)] };
    case 'dhclient':
      return { cmd: 'nsenter', args: [ns, 'dhclient', ...dhclientFiles(d), '-d', '-4', ...extra, spec.ifname] };
    case 'dhcpcd':
      return {
        cmd: 'nsenter',
        args: [
          ns,
          'unshare',
          '--mount',
          '--propagation',
          'private',
          files.privateNs,
          d,
          '--',
          'dhcpcd',
          '-B',
          '-4',
          '-f',
          `${DHCPCD_DB}/dhcpcd.conf`,
          '-c',
          `${DHCPCD_DB}/hook`,
          ...(spec.hostname ? ['-h', spec.hostname] : []),
          ...ask,
          ...extra,
          spec.ifname,
        ],
      };
    case 'dhcp':
      throw new Error('the dhcp client runs in a helper container, not on the host');
  }
}

/**
 * dhclient's release: a second dhclient with the same files signals the first and sends DHCPRELEASE.
 * It enters the namespace through the running client (`/proc/CLIENTPID/ns/net`): when the container
 * has exited, its own path is gone, but the client still holds the namespace and its interface.
 */
export function dhclientReleaseCommand(spec: DhcpStartSpec, dir: string, clientPid: number): Command {
  return {
    cmd: 'nsenter',
    args: [`--net=/proc/${clientPid}/ns/net`, 'dhclient', ...dhclientFiles(dir), '-4', '-r', spec.ifname],
  };
}

function dhclientFiles(d: string): string[] {
  return ['-sf', `${d}/hook`, '-pf', `${d}/dhclient.pid`, '-lf', `${d}/dhclient.leases`, '-cf', `${d}/dhclient.conf`];
}

/** The helper container's command (busybox udhcpc, the hook mounted at /fleetnet). */
export function helperCommand(spec: DhcpStartSpec, extra: readonly string[], lastAddress?: string): string[] {
  return ['/bin/busybox', ...udhcpcArgs(spec, '/fleetnet/hook', [], extra, askFor(extra, lastAddress))];
}

/** udhcpc in the foreground, releasing on exit, with its hook script (and pid file, on the host). */
function udhcpcArgs(
  spec: DhcpStartSpec,
  hook: string,
  pidFile: readonly string[],
  extra: readonly string[],
  ask: readonly string[],
): string[] {
  return [
    'udhcpc',
    '-f',
    '-R',
    '-i',
    spec.ifname,
    '-s',
    hook,
    ...pidFile,
    ...(spec.hostname ? ['-x', `hostname:${spec.hostname}`] : []),
    ...ask,
    ...extra,
  ];
}

/** Ask for the last address again (`-r`), unless the user's own options already ask for one. */
function askFor(extra: readonly string[], lastAddress: string | undefined): string[] {
  return lastAddress && !extra.includes('-r') ? ['-r', lastAddress] : [];
}

/** How a client is stopped: the signal that releases the lease, and the one that does not. */
export function stopSignals(client: DhcpClient): { release: NodeJS.Signals | 'command'; keep: NodeJS.Signals } {
  switch (client) {
    case 'udhcpc':
    case 'dhcp':
      return { release: 'SIGTERM', keep: 'SIGKILL' }; // -R: release on SIGTERM
    case 'dhclient':
      return { release: 'command', keep: 'SIGKILL' };
    case 'dhcpcd':
      return { release: 'SIGALRM', keep: 'SIGKILL' }; // SIGALRM is what `dhcpcd -k` sends
  }
}
