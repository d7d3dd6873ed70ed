// Labels as desired state, acted on: a running container of this host with `fleetnet.attach` labels is
// attached here (once; a restart re-applies through its record), `fleetnet.net` ones are kept for the
// controller, and what went wrong is kept per container for `ls`/Health to show. Each error is logged once for each
// run of the container: the lifecycle pass acts on the labels again every few seconds, the log says it once.
import type { Logger } from 'pino';
import { describeError } from '../../common/errors.js';
import type { Attacher } from '../attach/attacher.js';
import type { AttachOptions } from '../attach/attacher-contract.js';
import type { AttachOrder } from '../attach/order.js';
import { recordKeyOf, type RecordStore } from '../attach/records.js';
import type { ContainerResolver } from '../containers/resolve.js';
import { isGone, isNotRunning } from './container-errors.js';
import { ownerHostOf, readLabels, type LabelSpec } from './labels.js';

export interface LabelState {
  container: string;
  id: string;
  /** Controller allocations asked by labels (fleetnet.net), for the controller to act on. */
  fleet: Extract<LabelSpec, { kind: 'fleet' }>[];
  errors: string[];
  /** The run of the container these errors were seen in (`pid/nsKey`): a restart is a new run. */
  run?: string;
}

export interface LabelAttachDeps {
  attacher: Attacher;
  records: RecordStore;
  resolver: Pick<ContainerResolver, 'resolve'>;
  log: Logger;
  /** This agent's host name: containers labelled fleetnet.host=OTHER are left to that host's agent. */
  hostName?: string;
}

export class LabelAttachments {
  /** Containers with fleetnet labels, by Docker ID: what their labels asked for and what went wrong. */
  private readonly labelled = new Map<string, LabelState>();

  constructor(private readonly d: LabelAttachDeps) {}

  states(): LabelState[] {
    return [...this.labelled.values()];
  }

  /** The container was removed: its labels ask for nothing any more. */
  forget(id: string): void {
    this.labelled.delete(id);
  }

  /** Forgets every container the runtime no longer lists. */
  keepOnly(listed: (id: string) => boolean): void {
    for (const id of this.labelled.keys()) if (!listed(id)) this.labelled.delete(id);
  }

  /**
   * A labelled container of this host: its fleetnet.attach labels are attached here; fleet ones are kept for the
   * controller.
   */
  async apply(id: string, labels: Record<string, string>): Promise<void> {
    const owner = ownerHostOf(labels);
    if (owner && owner !== (this.d.hostName ?? '')) return; // another host's container on a shared daemon
    const read = readLabels(labels, id);
    const state: LabelState = { container: '', id, fleet: [], errors: [...read.errors] };
    let c;
    try {
      c = await this.d.resolver.resolve({ kind: 'docker', value: id });
    } catch (err) {
      if (!isNotRunning(err) && !isGone(err)) state.errors.push(describeError(err));
      this.labelled.set(id, state);
      return;
    }
    state.container = c.name;
    state.run = `${c.pid}/${c.nsKey}`;
    const before = this.labelled.get(id);
    // Logged already in this run of the container; an error that went away (the label was made) is logged again.
    const logged = before?.run === state.run ? before.errors : [];
    for (const err of read.errors)
      if (!logged.includes(err)) this.d.log.warn({ container: c.name, err }, 'fleetnet label not understood');
    for (const s of read.specs) {
      if (s.kind === 'fleet') {
        state.fleet.push(s);
        continue;
      }
      const failure = `${c.name} ${s.ifname} from label ${s.label}: `;
      const key = recordKeyOf(c, s.ifname);
      const r = this.d.records.get(key);
      if (r && r.state === 'failed' && (r.nextRetryMs ?? 0) > Date.now()) {
        // Failed, waiting for its retry: still shown, not logged again.
        state.errors.push(...logged.filter((e) => e.startsWith(failure)));
        continue;
      }
      if (r && r.state !== 'failed') continue; // made already; restarts re-apply it
      const target = { kind: 'docker', value: c.id } as const;
      const order: AttachOrder = { ...s.spec, target, ifname: s.ifname, dryRun: false };
      try {
        await this.d.attacher.attach(order, {} as AttachOptions);
      } catch (err) {
        const msg = failure + describeError(err);
        state.errors.push(msg);
        if (!logged.includes(msg))
          this.d.log.warn({ container: c.name, ifname: s.ifname, err: describeError(err) }, 'label attach failed');
      }
    }
    this.labelled.set(id, state);
  }
}
