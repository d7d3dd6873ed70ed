// Tunnel up/down events: while someone watches the fleet's events, the controller asks the mesh
// members for their tunnels' states every period and publishes each change of a (host, network,
// peer) tunnel between up and not up. The first look at a tunnel only sets what it was.
import type { Logger } from 'pino';
import { describeError } from '../../common/errors.js';
import type { FleetEvents } from './fleet-events.js';

export interface TunnelReport {
  host: string;
  reply?: { tunnels: { network: string; peer: string; state: string; detail: string }[] };
  error: string;
}

export interface TunnelWatchOptions {
  events: FleetEvents;
  status: () => Promise<TunnelReport[]>;
  periodMs: number;
  log: Logger;
  now?: () => number;
}

export class TunnelWatch {
  private readonly last = new Map<string, boolean>();
  private timer?: NodeJS.Timeout;
  private polling = false;

  constructor(private readonly o: TunnelWatchOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.poll(), this.o.periodMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One look (also called by tests); nothing is asked while nobody watches. */
  async poll(): Promise<void> {
    if (this.o.events.watchers() === 0) {
      this.last.clear(); // a new watcher starts from what is, not from what was
      return;
    }
    if (this.polling) return;
    this.polling = true;
    try {
      const now = (this.o.now ?? Date.now)();
      for (const h of await this.o.status()) {
        for (const t of h.reply?.tunnels ?? []) {
          const key = `${h.host}\0${t.network}\0${t.peer}`;
          const up = t.state === 'up';
          const was = this.last.get(key);
          this.last.set(key, up);
          if (was === undefined || was === up) continue;
          this.o.events.publish({
            kind: up ? 'tunnel-up' : 'tunnel-down',
            timeMs: now,
            host: h.host,
            network: t.network,
            peer: t.peer,
            detail: t.detail,
          });
        }
      }
    } catch (err) {
      this.o.log.debug({ err: describeError(err) }, 'tunnel states not read this time');
    } finally {
      this.polling = false;
    }
  }
}
