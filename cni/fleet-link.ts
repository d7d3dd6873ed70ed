// The fleet controller as seen by the CNI handler: when the agent has one, the controller owns
// addresses and MACs (fleet-unique) and the attachment is a fleet attachment like any other.
import type { CniCall } from './handler.js';
import type { NetConf } from './netconf.js';
import type { Reservation } from './reservations.js';
import type { CniResult } from './spec.js';

export interface FleetLink {
  /** Main plugin: the controller allocates and orders this agent to attach; resolves once it is up. */
  add(conf: NetConf, call: CniCall, id: string): Promise<CniResult>;
  /** fleetnet-ipam: a fleet-unique address held at the controller (no interface is made). */
  reserve(conf: NetConf, call: CniCall, id: string): Promise<CniResult>;
  /** Detaches and releases; nothing there is no error. */
  del(conf: NetConf, call: CniCall, id: string): Promise<void>;
  /** What the fleet holds for this attachment (CHECK): undefined when the controller no longer has it. */
  reservation(conf: NetConf, call: CniCall, id: string): Promise<Reservation | undefined>;
  /** The ids of this host's CNI attachments on the network that the controller holds (GC). */
  held(conf: NetConf): Promise<string[]>;
  /** Rejects with CniError 50 when no address can be allocated (the controller does not answer). */
  status(conf: NetConf): Promise<void>;
}
