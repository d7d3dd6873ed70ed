// The table views of the read commands (cli/output/render.ts): which columns `ls`, `hosts`, `nets`
// and `mesh status` show, and which more -o wide adds. The items are what -o json prints.
import type { InventoryEntry } from '../../common/inventory.js';
import type { LsEntry } from '../../common/ls-schema.js';
import type { TunnelStatus } from '../../proto/gen/fleetnet/v1/agent.js';
import type { Host, MeshTunnelState, Network } from '../../proto/gen/fleetnet/v1/controller.js';
import type { View } from './render.js';

const dash = (s: string | number | undefined) => (s === undefined || s === '' || s === 0 ? '-' : String(s));
const when = (ms: number) => (ms ? new Date(ms).toISOString().slice(11, 19) : '-');

function ago(ms: number): string {
  if (!ms) return 'never';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  return s < 120 ? `${s}s ago` : `${Math.round(s / 60)}m ago`;
}

export const LS_VIEW: View<LsEntry> = {
  columns: [
    ['CONTAINER', (a) => a.container],
    ['HOST', (a) => a.host],
    ['NET', (a) => dash(a.network)],
    ['IF', (a) => a.ifname],
    ['MAC', (a) => a.mac],
    ['ADDRESSES', (a) => a.addresses.join(',') || '-'],
    ['STATE', (a) => a.state],
    ['ERROR', (a) => a.error],
  ],
  wide: [
    ['PID', (a) => dash(a.pid)],
    ['HOSTIF', (a) => a.hostIf],
    ['KIND', (a) => a.kind],
    ['PEER', (a) => dash(a.hostIfname)],
    ['MTU', (a) => dash(a.mtu)],
    ['VLAN', (a) => dash(a.vlan)],
    ['GEN', (a) => String(a.generation)],
    ['ID', (a) => dash(a.id)],
  ],
  id: (a) => a.id || `${a.host}/${a.container}/${a.ifname}`,
};

/** A host as -o json prints it: `controller` only when one is known (several controllers on etcd). */
export type HostItem = Omit<Host, 'controller'> & { controller?: string };

export const hostItem = ({ controller, ...h }: Host): HostItem => (controller ? { ...h, controller } : h);

export const HOSTS_VIEW: View<HostItem> = {
  columns: [
    ['HOST', (h) => h.name],
    ['AGENT', (h) => h.agentAddr],
    ['UNDERLAY', (h) => h.underlayIp],
    ['STATE', (h) => h.state],
    ['SEEN', (h) => ago(Number(h.lastSeenUnixMs))],
    ['VERSION', (h) => h.agentVersion || '-'],
    ['GEN', (h) => `${h.observedGeneration}/${h.generation}`],
    ['ERROR', (h) => h.lastError],
  ],
  wide: [
    [
      'CAPABILITIES',
      (h) =>
        h.capabilities
          .filter((c) => c.available)
          .map((c) => c.name)
          .join(',') || '-',
    ],
    ['ADDED', (h) => (h.addedUnixMs ? new Date(Number(h.addedUnixMs)).toISOString() : '-')],
  ],
  id: (h) => h.name,
};

/** The hosts' table: with several controllers (an owner known), which one dispatches to each host, after STATE. */
export function hostsView(items: readonly HostItem[]): View<HostItem> {
  if (!items.some((h) => h.controller)) return HOSTS_VIEW;
  const columns = [...HOSTS_VIEW.columns];
  columns.splice(columns.findIndex(([c]) => c === 'STATE') + 1, 0, ['CONTROLLER', (h) => h.controller ?? '-']);
  return { ...HOSTS_VIEW, columns };
}

/**
 * A network as `nets -o json` and `net create --json` print it: `vlan` a string as in every other JSON output
 * (attachments carry `@ID` as typed, an IPoIB pkey in hex too), '' for none (the message's 0).
 */
export type NetworkItem = Omit<Network, 'vlan'> & { vlan: string };
export const networkItem = (n: Network): NetworkItem => ({ ...n, vlan: n.vlan ? String(n.vlan) : '' });

/** A reply that carries a network (`mesh add/rm`, `host add --join`) as --json prints it: the network's networkItem. */
export const withNetworkItem = <T extends { network?: Network }>(r: T) => ({
  ...r,
  network: r.network && networkItem(r.network),
});

export const NETS_VIEW: View<NetworkItem> = {
  columns: [
    ['NET', (n) => n.name],
    ['SUBNETS', (n) => n.subnets.join(',')],
    ['GATEWAYS', (n) => n.gateways.join(',') || '-'],
    ['IPAM RANGE', (n) => n.ipamRanges.map((r) => `${r.start}-${r.end}`).join(',') || '-'],
    ['KIND', (n) => n.kind],
    [
      'BRIDGE/PARENT',
      (n) =>
        n.bridge ||
        n.parent ||
        Object.entries(n.parents)
          .map(([h, p]) => `${h}=${p}`)
          .join(','),
    ],
    ['VLAN', (n) => dash(n.vlan)],
    ['MTU', (n) => dash(n.mtu)],
    ['ATTACHED', (n) => String(n.attachments)],
  ],
  wide: [
    ['MESH', (n) => (n.mesh ? `${n.mesh}/${n.meshKey}` : '-')],
    ['MEMBERS', (n) => n.meshHosts.join(',') || '-'],
  ],
  id: (n) => n.name,
};

export const FLEET_TUNNELS_VIEW: View<MeshTunnelState> = {
  columns: [
    ['NETWORK', (t) => t.network || '-'],
    ['HOST', (t) => t.host],
    ['PEER', (t) => t.peer || '-'],
    ['PORT', (t) => t.port || '-'],
    ['STATE', (t) => t.state],
    ['CHECKED', (t) => when(Number(t.checkedAtMs))],
    ['DETAIL', (t) => t.detail],
  ],
  id: (t) => t.port || `${t.host}/${t.network || '*'}`, // a host whose agent did not answer has no port
};

export const AGENT_TUNNELS_VIEW: View<TunnelStatus> = {
  columns: [
    ['NETWORK', (t) => t.network],
    ['PEER', (t) => t.peer],
    ['PEER-IP', (t) => t.peerIp],
    ['PORT', (t) => t.port],
    ['KIND', (t) => `${t.kind}/${t.encap}`],
    ['STATE', (t) => t.state],
    ['CHECKED', (t) => when(Number(t.checkedAtMs))],
    ['DETAIL', (t) => t.detail],
  ],
  id: (t) => t.port,
};

/** An entry of `inspect` (common/inventory.ts), as its table needs it. */
export type InspectItem = Pick<InventoryEntry, 'container' | 'host' | 'interfaces'>;
const cname = (e: InspectItem) => e.container.name || e.container.id;

/** `inspect -o table`: one row per container (the default stays JSON, which scripts read). */
export const INSPECT_VIEW: View<InspectItem> = {
  columns: [
    ['CONTAINER', cname],
    ['HOST', (e) => e.host],
    ['INTERFACES', (e) => e.interfaces.map((i) => `${i.ifname}=${i.compat.IPAddress || '-'}`).join(' ')],
  ],
  wide: [['MACS', (e) => e.interfaces.map((i) => i.mac).join(',')]],
  id: (e) => e.container.id || e.container.name,
};
