// DESIGN.md's one inventory schema: per container `{container, host, interfaces}`, each interface
// with fleetnet's fields and a `compat` object carrying what network-wrapper users script against.
// Pure, so the local `fleetnet inspect` and the controller's fleet inventory print the same JSON.

import type { Attachment } from '../proto/gen/fleetnet/v1/controller.js';
import type { LsEntry } from './ls-schema.js';

/** The fields of an interface the schema needs (the agent's proto `Interface` has them all). */
export interface InventoryInterface {
  attachmentId?: string;
  container?: { runtime: string; id: string; name: string; pid: number; netns?: string } | undefined;
  ifname: string;
  hostIfname: string;
  hostIf: string;
  kind: string;
  mac: string;
  addresses: string[];
  gateways: string[];
  mtu: number;
  vlan: string;
  state: string;
  /** Why the last re-apply failed (agent lifecycle), with its attempts. */
  lastError?: string;
  attempts?: number;
  lease?:
    | {
        address: string;
        router: string;
        dns: string[];
        leaseSeconds: number;
        expiresUnixMs: number | string;
        clientPid: number;
        client: string;
      }
    | undefined;
}

export interface Compat {
  HWAddr: string;
  Bridge: string;
  IPAddress: string;
  IPPrefixLen: number;
  Gateway: string;
  DNS: string[];
  DHCP_PID: number;
}

export interface InventoryEntry {
  container: { runtime: string; id: string; name: string; pid: number };
  host: string;
  interfaces: (Omit<InventoryInterface, 'container'> & { compat: Compat })[];
}

export function compatOf(i: InventoryInterface): Compat {
  const cidr = i.lease?.address || i.addresses.find((a) => !a.includes(':')) || i.addresses[0] || '';
  const [ip = '', len = '0'] = cidr.split('/');
  return {
    HWAddr: i.mac,
    Bridge: i.hostIf,
    IPAddress: ip,
    IPPrefixLen: Number(len) || 0,
    Gateway: i.lease?.router || i.gateways[0] || '',
    DNS: i.lease?.dns ?? [],
    DHCP_PID: i.lease?.clientPid ?? 0,
  };
}

/** Groups interfaces by container (first seen first), each with its compat object. */
export function buildInventory(host: string, interfaces: readonly InventoryInterface[]): InventoryEntry[] {
  const by = new Map<string, InventoryEntry>();
  for (const i of interfaces) {
    const c = i.container ?? { runtime: '', id: '', name: '', pid: 0 };
    const k = `${c.runtime}:${c.id}`;
    let e = by.get(k);
    if (!e)
      by.set(k, (e = { container: { runtime: c.runtime, id: c.id, name: c.name, pid: c.pid }, host, interfaces: [] }));
    const { container: _omit, ...rest } = i;
    e.interfaces.push({
      ...rest,
      ...(i.lease ? { lease: { ...i.lease, expiresUnixMs: Number(i.lease.expiresUnixMs) } } : {}),
      compat: compatOf(i),
    });
  }
  return [...by.values()];
}

/** One row of `fleetnet ls --json` (common/ls-schema.ts) from an agent's interface: the controller's shape. */
export function lsEntryOf(host: string, i: InventoryInterface): LsEntry {
  const addresses = [...i.addresses];
  if (i.lease?.address && !addresses.includes(i.lease.address)) addresses.push(i.lease.address);
  return {
    id: i.attachmentId ?? '',
    host,
    network: '',
    container: i.container?.name || i.container?.id || '',
    containerId: i.container?.id ?? '',
    pid: i.container?.pid ?? 0,
    ifname: i.ifname,
    hostIf: i.hostIf,
    hostIfname: i.hostIfname,
    kind: i.kind,
    mac: i.mac,
    addresses,
    gateways: i.gateways,
    mtu: i.mtu,
    vlan: i.vlan,
    state: i.state,
    error: i.lastError ? `${i.lastError}${i.attempts ? ` (attempt ${i.attempts})` : ''}` : '',
    generation: 0,
  };
}

type Plain =
  | 'id'
  | 'host'
  | 'network'
  | 'ifname'
  | 'hostIf'
  | 'hostIfname'
  | 'kind'
  | 'mac'
  | 'addresses'
  | 'gateways'
  | 'mtu'
  | 'vlan'
  | 'state'
  | 'error'
  | 'generation';

/** A fleet attachment as an `ls --json` row needs it: the controller's message, or its store record's view. */
export type FleetAttachmentFields = Pick<Attachment, Plain> & {
  target?: { value: string } | undefined;
  container?: { id: string; name: string; pid: number } | undefined;
};

/**
 * One row of `fleetnet ls --json` for a fleet attachment: the controller's pre-rendered view of a record
 * (controller/store/view.ts) and the CLI's of the Attachment message it gets back (attach, detach --json).
 */
export function lsEntryOfAttachment(a: FleetAttachmentFields): LsEntry {
  const { id, host, network, ifname, hostIf, hostIfname, kind, mac, addresses, gateways, mtu, vlan, state } = a;
  const c = a.container;
  const who = { container: c?.name || a.target?.value || '', containerId: c?.id ?? '', pid: c?.pid ?? 0 };
  return {
    id,
    host,
    network,
    ...who,
    ifname,
    hostIf,
    hostIfname,
    kind,
    mac,
    addresses,
    gateways,
    mtu,
    vlan,
    state,
    error: a.error,
    generation: Number(a.generation),
  };
}

/**
 * What `attach --json` prints, from the local agent or through the controller: the attachment as its `ls --json`
 * row, `changed` (false: it was already attached as asked), and a DHCP client's lease as `inspect` shows it.
 */
export function attachJsonOf(
  row: LsEntry,
  changed: boolean,
  lease?: InventoryInterface['lease'],
): LsEntry & { changed: boolean; lease?: NonNullable<InventoryInterface['lease']> } {
  return { ...row, changed, ...(lease ? { lease: { ...lease, expiresUnixMs: Number(lease.expiresUnixMs) } } : {}) };
}
