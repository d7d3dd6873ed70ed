// What a pass writes about its host: state, last error, agent version and capabilities, observed
// generation, last contact; and the host-up / host-down events of its transitions. A pass that finds
// a host as it was writes nothing, except its last contact every seenEveryMs.
import type { DispatchObserver } from '../events/fleet-events.js';
import { markHostUnreachable } from '../fleet/attachments.js';
import type { Store } from '../store/store.js';
import type { HostRecord } from '../store/types.js';

export class HostStatus {
  constructor(
    private readonly o: { store: Store; now: () => number; seenEveryMs: number; observer?: DispatchObserver },
  ) {}

  /** Records `patch` unless `host` (the record as the pass read it) shows it already. */
  async note(host: HostRecord, patch: Partial<HostRecord>): Promise<void> {
    const shown = (Object.keys(patch) as (keyof HostRecord)[]).every((k) => {
      if (k === 'lastSeenMs') return patch.lastSeenMs! - host.lastSeenMs < this.o.seenEveryMs;
      if (k === 'observedGeneration') return patch.observedGeneration! <= host.observedGeneration;
      return JSON.stringify(patch[k]) === JSON.stringify(host[k]);
    });
    if (!shown) await this.record(host.name, patch);
  }

  private async record(name: string, patch: Partial<HostRecord>): Promise<void> {
    const now = this.o.now();
    const was = await this.o.store.transact((tx) => {
      const h = tx.getHost(name);
      if (!h) return undefined;
      const observed = patch.observedGeneration;
      tx.putHost({
        ...h,
        ...patch,
        ...(observed !== undefined ? { observedGeneration: Math.max(observed, h.observedGeneration) } : {}),
      });
      // Just became unreachable: what its attachments are now is not known, and ls says so (written
      // once, on the transition); the first pass after it answers again writes each one's real state.
      if (patch.state === 'unreachable' && h.state !== 'unreachable') {
        markHostUnreachable(tx, name, patch.lastError ?? '', now);
      }
      return h.state;
    });
    if (was !== undefined && patch.state && patch.state !== was && patch.state !== 'unknown') {
      const kind = patch.state === 'up' ? 'host-up' : 'host-down';
      this.o.observer?.event?.({
        kind,
        timeMs: this.o.now(),
        host: name,
        ...(patch.lastError ? { detail: patch.lastError } : {}),
      });
    }
  }
}
