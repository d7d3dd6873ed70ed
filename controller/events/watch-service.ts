// The WatchEvents server stream: a "watching" message first (the watch has begun: what follows is
// everything that happens from here), then each fleet event as it is published, until the caller
// goes away.
import type { ServerWritableStream } from '@grpc/grpc-js';
import { FleetnetError } from '../../common/errors.js';
import { toServiceError } from '../../common/rpc/server.js';
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

const SHUTTING_DOWN = new FleetnetError('unavailable', 'the controller is shutting down: the event stream ended', {
  hint:
    'what happens from now on was not seen here; run fleetnet events again (with several controllers, ' +
    'another one answers)',
});

/**
 * closing: aborted when the controller stops; each watch then ends with UNAVAILABLE ("shutting down"), so its
 * client knows the stream was lost and the server's stop does not wait on a watch that never ends.
 */
export function watchEventsHandler(events: FleetEvents, closing: AbortSignal, now: () => number = Date.now) {
  return (call: ServerWritableStream<WatchEventsRequest, FleetEventMsg>): void => {
    const end = () => {
      call.emit('error', toServiceError(SHUTTING_DOWN));
    };
    if (closing.aborted) return end();
    const off = events.subscribe((e) => call.write(eventToProto(e)));
    const done = () => {
      off();
      closing.removeEventListener('abort', end);
    };
    closing.addEventListener('abort', end, { once: true });
    for (const ev of ['cancelled', 'close', 'error'] as const) call.once(ev, done);
    call.write(FleetEventMsg.fromPartial({ kind: 'watching', timeUnixMs: now() }));
  };
}
