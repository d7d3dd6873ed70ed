// The controller's domain records, as the store keeps them. Proto types stop at service/.
import type { AddressSpec, TargetRef } from '../../common/attach-args.js';
import type { CheckedMesh, CheckedNetwork, NetworkKind } from '../../common/network-spec.js';

/** `unreachable`: the controller cannot reach the agent (its data plane is left as it is). */
export type HostState = 'unknown' | 'up' | 'unreachable';

export interface HostCapability {
  name: string;
  available: boolean;
  detail: string;
}

export interface HostRecord {
  name: string;
  /** ADDR:PORT of the agent's TCP endpoint. */
  agentAddr: string;
  /** IPv4 underlay address; its last three octets go into XX:IP:IP:IP:YY:ZZ MACs. */
  underlayIp: string;
  state: HostState;
  lastSeenMs: number;
  agentVersion: string;
  capabilities: HostCapability[];
  /** Bumped whenever the host's desired set of attachments changes. */
  generation: number;
  /** The latest generation the agent converged to. */
  observedGeneration: number;
  lastError: string;
  addedMs: number;
}

export type { NetworkKind };

export interface IpRangeRecord {
  start: string;
  end: string;
}

/** A network as `net create` described it, checked (common/network-spec.ts), with what the controller adds. */
export interface NetworkRecord extends Omit<CheckedNetwork, 'mesh'> {
  createdMs: number;
  /**
   * Per family, the last address handed out by allocation (host-local's cursor), so the next search starts after it.
   */
  cursors: Record<string, string>;
  /** The network's tunnel mesh (absent: not meshed). See controller/mesh/fleet-mesh.ts. */
  mesh?: NetworkMesh;
}

export interface NetworkMesh extends CheckedMesh {
  /** Hosts in the mesh (fleetnet mesh add/rm). */
  members: string[];
}

/** `unreachable`: its host's agent does not answer, so its live state is not known (shown until the host is back). */
export type AttachmentState = 'pending' | 'up' | 'failed' | 'detaching' | 'stopped' | 'unreachable';

export interface ResolvedContainer {
  runtime: string;
  id: string;
  name: string;
  pid: number;
}

export interface AttachmentRecord {
  id: string;
  host: string;
  /** '' when the attachment has no network (0/0 or DHCP on an explicit network is still named). */
  net: string;
  target: TargetRef;
  ifname: string;
  hostIf: string;
  kind: NetworkKind;
  mac: string;
  /** How the MAC was chosen: 'auto' (XX:IP:IP:IP:YY:ZZ), 'explicit', 'string' (U:). */
  macScheme: 'auto' | 'explicit' | 'string';
  macSource: string;
  /** Static addresses, reserved in the store: `cidr` with the network's prefix, optional gateway. */
  addresses: { cidr: string; gateway?: string }[];
  /** DHCP / 0/0 specs, passed to the agent as they are. */
  other: Exclude<AddressSpec, { kind: 'static' }>[];
  vlan: string;
  mtu: number;
  desired: 'present' | 'absent';
  state: AttachmentState;
  error: string;
  generation: number;
  container?: ResolvedContainer;
  hostIfname: string;
  /** Addresses the agent reported (DHCP leases included). */
  reportedAddresses: string[];
  /** The container interface's MTU as its agent made it (`mtu` is what was asked: 0 for the host interface's). */
  reportedMtu?: number;
  /** What was asked (network, addresses, MAC, VLAN, MTU): a repeat must match it. */
  requestFp: string;
  /** Keep the address and MAC reserved after the container is removed (default: freed with it). */
  keepAddress?: boolean;
  /** Attempts since the last success (failed attachments are retried with backoff) and when the next may run. */
  attempts?: number;
  nextRetryMs?: number;
  /** Addresses and MAC only, for an interface fleetnet does not make (CNI IPAM): never sent to the agent. */
  reserveOnly?: boolean;
  /** Made from the container's labels (fleetnet.net): it goes when the labels or the container go. */
  fromLabels?: boolean;
  /** Labels asked for it and it was refused (error says why): nothing is allocated, it is only shown. */
  labelRefused?: boolean;
  createdMs: number;
  updatedMs: number;
}

export interface AttachmentFilter {
  host?: string;
  net?: string;
}
