// What changes in the fleet, as the controller sees it happen: an attachment made or removed on
// its host, a host's agent found up or down, a mesh tunnel going up or down. Published where the
// change is decided (the dispatcher, the mesh status poll) and read by `fleetnet events`
// (WatchEvents) and by the metrics. Nothing is kept: a watcher sees what happens while it watches.
import { EventEmitter } from 'node:events';

export type FleetEventKind = 'attach' | 'detach' | 'host-up' | 'host-down' | 'tunnel-up' | 'tunnel-down';

export interface FleetEvent {
  kind: FleetEventKind;
  timeMs: number;
  host: string;
  /** attach/detach: the attachment, its network, container and interface; tunnels: the network and peer. */
  attachmentId?: string;
  network?: string;
  container?: string;
  ifname?: string;
  peer?: string;
  /** What the change rests on (the agent's error for host-down, the probe's answer for a tunnel). */
  detail?: string;
}

/** What the dispatcher tells about its work (both optional: a dispatcher runs without them in tests). */
export interface DispatchObserver {
  /** A full pass of one host finished; `drift`: attachments or interfaces that differed from the desired state. */
  passDone?(host: string, drift: number): void;
  event?(e: FleetEvent): void;
}

export class FleetEvents {
  private readonly bus = new EventEmitter<{ event: [FleetEvent] }>();

  constructor() {
    this.bus.setMaxListeners(0); // one per `fleetnet events` watcher
  }

  publish(e: FleetEvent): void {
    this.bus.emit('event', e);
  }

  /** Calls `fn` with each event until the returned function is called. */
  subscribe(fn: (e: FleetEvent) => void): () => void {
    this.bus.on('event', fn);
    return () => this.bus.off('event', fn);
  }

  /** How many watch now (tunnel states are polled only while someone does). */
  watchers(): number {
    return this.bus.listenerCount('event');
  }
}
