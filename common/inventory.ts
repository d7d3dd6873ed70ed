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

type Lease = NonNullable<InventoryInterface['lease']>;

/** An interface in the inventory: its `ls --json` row less what the entry says once, its lease, compat. */
export type InventoryIface = Omit<LsEntry, 'host' | 'container' | 'containerId' | 'pid' | 'generation'> & {
  lease?: Lease & { expiresUnixMs: number };
  compat: Compat;
};

/**
 * One entry of `fleetnet inspect --json`, from a host's agent and through the controller alike; inspect
 * prints an array of them (one per host and container), also when one matches.
 */
export interface InventoryEntry {
  container: { runtime: string; id: string; name: string; pid: number };
  host: string;
  interfaces: InventoryIface[];
}

/** Entries from interfaces: grouped by host and container, first seen first. */
function group(
  items: { row: LsEntry; container: InventoryEntry['container']; lease?: Lease | undefined; compat: Compat }[],
): InventoryEntry[] {
  const by = new Map<string, InventoryEntry>();
  for (const { row, container, lease, compat } of items) {
    const k = JSON.stringify([row.host, container.runtime, container.id, container.name]);
    let e = by.get(k);
    if (!e) by.set(k, (e = { container, host: row.host, interfaces: [] }));
    const { host: _h, container: _c, containerId: _i, pid: _p, generation: _g, ...fields } = row;
    const l = lease ? { lease: { ...lease, expiresUnixMs: Number(lease.expiresUnixMs) } } : {};
    e.interfaces.push({ ...fields, ...l, compat });
  }
  return [...by.values()];
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

/** A host's agent's interfaces as inventory entries (the local `fleetnet inspect`). */
export function buildInventory(host: string, interfaces: readonly InventoryInterface[]): InventoryEntry[] {
  return group(
    interfaces.map((i) => {
      const c = i.container ?? { runtime: '', id: '', name: '', pid: 0 };
      const container = { runtime: c.runtime, id: c.id, name: c.name, pid: c.pid };
      return { row: lsEntryOf(host, i), container, lease: i.lease, compat: compatOf(i) };
    }),
  );
}

/** The controller's attachments as inventory entries (`fleetnet inspect` through it); `asked`: the name given. */
export function fleetInventory(asked: string, atts: readonly Attachment[]): InventoryEntry[] {
  return group(
    atts.map((a) => {
      const c = a.container;
      const name = c?.name || a.target?.value || asked;
      const container = { runtime: c?.runtime || a.target?.kind || '', id: c?.id ?? '', name, pid: c?.pid ?? 0 };
      return { row: lsEntryOfAttachment(a), container, lease: a.lease, compat: compatOf(a) };
    }),
  );
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
