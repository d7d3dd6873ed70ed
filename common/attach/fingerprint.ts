// What must be equal for a repeated attach to be "the same request": one canonical form of the
// addresses and the MAC, used by the agent (its records) and the controller (its attachments).
// The JSON shapes are stored in records: they must not change, or existing records stop matching.
import type { AddressSpec } from './address.js';
import type { MacSpec } from './mac-spec.js';
import type { AttachSpec } from './spec.js';

function canonical(addresses: readonly AddressSpec[], mac: MacSpec): { addrs: string[]; mac: string } {
  const addrs = addresses
    .map((a) =>
      a.kind === 'static'
        ? `${a.cidr.text}@${a.gateway?.text ?? ''}`
        : a.kind === 'dhcp'
          ? `dhcp:${a.client}:${a.options}`
          : 'none',
    )
    .sort();
  return { addrs, mac: mac.kind === 'auto' ? 'auto' : mac.mac };
}

/** The agent's fingerprint of an attach order (the host interface it was made on included). */
export function agentFingerprint(o: Omit<AttachSpec, 'mtu'> & { hostIf: string; mtu?: number }): string {
  const { addrs, mac } = canonical(o.addresses, o.mac);
  // Options added later enter the fingerprint only when set, so that older records keep matching.
  const extra = {
    ...(o.macvlanMode ? { macvlanMode: o.macvlanMode } : {}),
    ...(o.vlanFiltering ? { vlanFiltering: true } : {}),
    ...(o.trunk ? { trunk: o.trunk } : {}),
    ...(o.ovsDatapath ? { ovsDatapath: o.ovsDatapath } : {}),
  };
  return JSON.stringify({
    hostIf: o.hostIf,
    kind: o.kind ?? '',
    addrs,
    mac,
    id: o.id ?? '',
    mtu: o.mtu ?? 0,
    hostIfname: o.hostIfname ?? '',
    ...extra,
  });
}

/** The controller's fingerprint of a fleet attach in network `net`. */
export function fleetFingerprint(
  i: Pick<AttachSpec, 'addresses' | 'mac'> & { mtu?: number; vlan?: string },
  net: string,
): string {
  const { addrs, mac } = canonical(i.addresses, i.mac);
  return JSON.stringify({ net, addrs, mac, vlan: i.vlan ?? '', mtu: i.mtu ?? 0 });
}
