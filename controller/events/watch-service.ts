// The WatchEvents server stream: a "watching" message first (the watch has begun: what follows is
// everything that happens from here), then each fleet event as it is published, until the caller
// goes away.
import type { ServerWritableStream } from '@grpc/grpc-js';
import { FleetEvent as FleetEventMsg, type WatchEventsRequest } from '../../proto/gen/fleetnet/v1/controller.js';
import type { FleetEvent, FleetEvents } from './fleet-events.js';

export function eventToProto(e: FleetEvent): FleetEventMsg {
  return {
    kind: e.kind,
    timeUnixMs: e.timeMs,
    host: e.host,
    attachmentId: e.attachmentId ?? '',
    network: e.network ?? '',
    container: e.container ?? '',
    ifname: e.ifname ?? '',
    peer: e.peer ?? '',
    detail: e.detail ?? '',
  };
}

export function watchEventsHandler(events: FleetEvents, now: () => number = Date.now) {
  return (call: ServerWritableStream<WatchEventsRequest, FleetEventMsg>): void => {
    const off = events.subscribe((e) => call.write(eventToProto(e)));
    for (const ev of ['cancelled', 'close', 'error'] as const) call.once(ev, off);
    call.write(FleetEventMsg.fromPartial({ kind: 'watching', timeUnixMs: now() }));
  };
}
