// CNI reservations of the agent's local pools whose container namespace is gone with no DEL (the namespace was
// deleted, the runtime died, a cleanup never reached the agent): the address stays taken, and the agent's record,
// released by the lifecycle pass as "container gone", no longer shows it anywhere. Seen gone for the orphans'
// grace, each is freed as a DEL would free it. The controller's reservations are the controller's (its GC).
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Reservations } from '../../cni/reservations.js';

export class GoneReservations {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly reservations: Reservations,
    private readonly log: Logger,
  ) {}

  /** Frees what has been gone for graceMs; returns their `network/containerId/ifname`. */
  async sweep(now: number, graceMs: number): Promise<string[]> {
    const gone = this.reservations.gone();
    const keys = new Set(gone.map((g) => `${g.network}/${g.r.id}`));
    for (const k of [...this.seen.keys()]) if (!keys.has(k)) this.seen.delete(k);
    const freed: string[] = [];
    for (const { network, r } of gone) {
      const k = `${network}/${r.id}`;
      if (!this.seen.has(k)) this.seen.set(k, now);
      if (now - this.seen.get(k)! < graceMs) continue;
      const done = await this.reservations.locked(network, () => {
        const still = this.reservations.get(network, r.id);
        return !!still && still.netns === r.netns && !existsSync(r.netns) && this.reservations.delete(network, r.id);
      });
      if (!done) continue;
      this.seen.delete(k);
      freed.push(`${network}/${r.containerId}/${r.ifname}`);
      this.log.info(
        { network, containerId: r.containerId, ifname: r.ifname, netns: r.netns, addresses: r.addresses },
        'cni reservation released: its namespace is gone and no DEL came',
      );
    }
    return freed;
  }
}
