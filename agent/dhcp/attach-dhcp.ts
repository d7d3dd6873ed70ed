// The attach flow's side of DHCP: what to ask the supervisor for, checked before anything runs.
import type { AddressSpec } from '../../common/attach-args.js';
import { invalid, unsupported } from '../../common/errors.js';
import type { ContainerInfo } from '../containers/types.js';
import { missingClient } from './commands.js';
import { dhcpHostname, parseClientOptions } from './options.js';
import { ownerOf } from './process.js';
import { findProgram } from './scripts.js';
import type { DhcpStartSpec } from './types.js';

type Dhcp = Extract<AddressSpec, { kind: 'dhcp' }>;

export interface DhcpFlags {
  dhcpDns?: boolean;
  dhcpOneshot?: boolean;
}

/** The DHCP address of an order, validated (options, client installed, target kind); undefined when static. */
export function dhcpAddressOf(
  addresses: readonly AddressSpec[],
  c: ContainerInfo,
  available: boolean,
): Dhcp | undefined {
  const d = addresses.find((a): a is Dhcp => a.kind === 'dhcp');
  if (!d) return undefined;
  if (!available) throw unsupported('DHCP addressing is not available in this agent (no supervisor configured)');
  parseClientOptions(d.client, d.options);
  if (d.client !== 'dhcp' && !findProgram(d.client)) throw missingClient(d.client);
  if (d.client === 'dhcp' && c.runtime !== 'docker') {
    throw invalid(
      "'dhcp' runs busybox udhcpc in a helper container sharing a Docker container's " +
        'network; this target is not a Docker container',
      'use udhcpc, dhclient or dhcpcd',
    );
  }
  return d;
}

export async function dhcpStartSpec(
  d: Dhcp,
  c: ContainerInfo,
  key: string,
  ifname: string,
  mac: string,
  flags: DhcpFlags,
): Promise<DhcpStartSpec> {
  const hostname = c.runtime === 'docker' || c.runtime === 'lxc' ? dhcpHostname(c.name) : undefined;
  return {
    key,
    netns: c.netns,
    ifname,
    client: d.client,
    options: d.options,
    ...(hostname ? { hostname } : {}),
    mac,
    dns: !!flags.dhcpDns,
    oneshot: !!flags.dhcpOneshot,
    owner: await ownerOf(c),
  };
}
