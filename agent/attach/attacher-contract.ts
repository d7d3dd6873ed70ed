// What the Attacher (attacher.ts) is given and what it answers: its dependencies, its options, its result.
import type { Logger } from 'pino';
import type { Runner } from '../../common/runner.js';
import type { ContainerResolver } from '../containers/resolve.js';
import type { DhcpSupervisor } from '../dhcp/supervisor.js';
import type { Capability } from '../linux/capabilities.js';
import type { IpExec } from '../linux/ip.js';
import type { OvsDatapath } from '../ovs/vsctl.js';
import type { AttachmentRecord, RecordStore } from './records.js';

export interface AttacherDeps {
  runner: Runner;
  ip: IpExec;
  records: RecordStore;
  resolver: Pick<ContainerResolver, 'resolve'>;
  log: Logger;
  sysClassNet?: string;
  /** Runs DHCP clients; without it, DHCP addresses are refused. */
  dhcp?: DhcpSupervisor;
  /** Send gratuitous ARP after addressing (off the reply's path). */
  garp?: boolean;
  /** The agent's --ovs-db (ovs-vsctl --db=). */
  ovsDb?: string;
  /** Datapath of OVS bridges fleetnet creates when the attach does not say (default system). */
  ovsDatapath?: OvsDatapath;
  /** Alias marking the host-side veths this agent makes (see KindEnv.ownerMark). */
  ownerMark?: string;
  /** What this host can do (probed once); default: probed on first need with this runner. */
  capabilities?: () => Promise<Capability[]>;
  /** A bridge the host's mesh holds (Mesher.holds): never removed as unused, not even with no port left. */
  meshHolds?: (bridge: string) => boolean;
}

export interface AttachResult {
  record: AttachmentRecord;
  changed: boolean;
  commands: string[];
}

export interface AttachOptions {
  /** Keep the address and MAC reserved when the container is removed (the controller reads it). */
  keepAddress?: boolean;
  /** The RPC's signal (cancel, deadline): an attach still waiting for its container's queue is dropped. */
  signal?: AbortSignal;
  /**
   * A re-apply of what is recorded (the lifecycle): made only while the record is still there, decided
   * under the key's queue, so a detach that ran first (a CNI DEL) is never undone by it.
   */
  onlyIfRecorded?: boolean;
}
