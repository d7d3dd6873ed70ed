// What each host-interface kind (bridge, ovs, macvlan, ipoib, dummy) provides to the shared attach flow.
import type { Logger } from 'pino';
import type { Runner } from '../../../common/runner.js';
import type { UndoStack } from '../../../common/undo.js';
import type { ContainerInfo } from '../../containers/types.js';
import type { IpExec } from '../../linux/ip.js';
import type { LinkOp } from '../../linux/link-ops.js';
import type { HostLink } from '../../linux/sysfs.js';
import type { OvsCtl, OvsDatapath } from '../../ovs/vsctl.js';
import type { AttachOrder, HostIfKind } from '../order.js';
import type { AttachmentRecord, OwnedRef, RecordStore } from '../records.js';

/** What a kind may use. */
export interface KindEnv {
  runner: Runner;
  ip: IpExec;
  ovs: OvsCtl;
  records: RecordStore;
  log: Logger;
  sysClassNet?: string;
  defaultOvsDatapath: OvsDatapath;
  /** Alias set on host-side veths this agent makes: its ownership mark (the orphan sweep removes only these). */
  ownerMark?: string;
  /** One writer per host interface: creation and removal of shared host things run through here. */
  lockHostIf<T>(name: string, fn: () => Promise<T>): Promise<T>;
  /** Removes an owned host thing once no attachment uses it; what fleetnet found stays. */
  releaseOwned(ref: OwnedRef): Promise<void>;
}

export interface KindInput {
  order: AttachOrder;
  c: ContainerInfo;
  /** The host interface as found in sysfs; undefined when it does not exist (in this namespace). */
  host: HostLink | undefined;
  /** For OVS: the bridge exists in the OVS database. */
  ovsBridgeExists: boolean;
  /** Host-side veth name, or the temporary name of an interface made straight into the container. */
  hostIfname: string;
  mtu: number;
  mac?: string;
}

/** A capability the attach needs; checked against the probe before anything changes. */
export interface Need {
  cap: string;
  hint: string;
}

export interface Made {
  /** Host-side peer ('' when the interface lives only in the container). */
  hostIfname: string;
  owned: OwnedRef[];
  parent?: string;
  trunk?: string;
}

export interface KindPlan {
  needs: Need[];
  /** Host interfaces besides the order's host interface that this attach uses (e.g. `eth0.10`). */
  uses: string[];
  /** What the container's interface is called when made, before `nsPrelude` renames it. */
  nsName: string;
  /** Operations run first in the container's batch (e.g. renaming a temporary name). */
  nsPrelude: LinkOp[];
  /** --dry-run text: host interfaces made first, then the interface itself. */
  prepareCommands: string[];
  commands: string[];
  /** Makes (or finds) the host interface the attachment hangs off; pushes undo steps. */
  prepare(undo: UndoStack): Promise<OwnedRef[]>;
  /** Called just before the shared flow sends the container's batch (with `nsPrelude`). */
  beforeNsBatch?(): void;
  /** Makes the container's interface (and its host side); pushes undo steps. */
  apply(undo: UndoStack): Promise<Omit<Made, 'owned'>>;
  /** Kinds whose interface lives only in the container: the host link it hangs off (macvlan's lower link). */
  parent?: string;
}

export interface Kind {
  readonly kind: HostIfKind;
  /** Reads what it must and refuses what cannot work, changing nothing. */
  plan(env: KindEnv, input: KindInput): Promise<KindPlan>;
  /** Removes what one attachment holds on the host (port, veth) and in the container. */
  remove(env: KindEnv, r: AttachmentRecord): Promise<void>;
}

/** Deletes an interface inside a container namespace; a missing one is not an error. */
export async function deleteInNs(env: KindEnv, netns: string, ...names: string[]): Promise<void> {
  for (const n of names)
    await env.runner.run('nsenter', [`--net=${netns}`, 'ip', 'link', 'del', n], { allowFail: true });
}
