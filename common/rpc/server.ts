// The server side of fleetnet's RPC layer, on grpc-js's public API: a FleetnetError becomes a gRPC
// status at this edge (kind and hint travel as metadata; the way back is ./status.ts), and every
// unary handler receives the call's AbortSignal and deadline and passes them on.
import {
  Metadata,
  Server,
  status,
  type sendUnaryData,
  type ServerCredentials,
  type ServerUnaryCall,
  type StatusObject,
} from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { FleetnetError, type ErrorKind } from '../errors.js';

export { fromServiceError } from './status.js';

const CODE: Record<ErrorKind, status> = {
  invalid: status.INVALID_ARGUMENT,
  not_found: status.NOT_FOUND,
  ambiguous: status.INVALID_ARGUMENT,
  conflict: status.ALREADY_EXISTS,
  unsupported: status.FAILED_PRECONDITION,
  failed: status.INTERNAL,
  unavailable: status.UNAVAILABLE,
  pending: status.DEADLINE_EXCEEDED,
  permission: status.PERMISSION_DENIED,
};

export function toServiceError(err: unknown): Partial<StatusObject> {
  const metadata = new Metadata();
  if (err instanceof FleetnetError) {
    metadata.set('fleetnet-kind', err.kind);
    if (err.hint) metadata.set('fleetnet-hint-bin', Buffer.from(err.hint, 'utf8')); // -bin: any UTF-8
    return { code: CODE[err.kind], details: err.message, metadata };
  }
  return { code: status.INTERNAL, details: err instanceof Error ? err.message : String(err), metadata };
}

/** What a handler knows about its call besides the request. */
export interface CallContext {
  /** Aborted when the client cancels, goes away, or the call's deadline (grpc-timeout) passes. */
  signal: AbortSignal;
  /** The call's deadline (ms since the epoch), Infinity when the client set none. */
  deadlineMs: number;
}

/**
 * The context of one grpc-js call: grpc-js cancels the call at its deadline, which aborts the
 * signal. (A stand-in call without events or a deadline, as in a unit test, gets a signal that
 * never aborts and no deadline.)
 */
export function callContext(call: Partial<Pick<ServerUnaryCall<unknown, unknown>, 'getDeadline' | 'on'>>): CallContext {
  const ac = new AbortController();
  call.on?.('cancelled', () =>
    ac.abort(new FleetnetError('unavailable', 'the caller cancelled the call or its deadline passed')),
  );
  const d = call.getDeadline?.() ?? Infinity;
  return { signal: ac.signal, deadlineMs: d instanceof Date ? d.getTime() : d };
}

export type UnaryHandler<Req, Res> = (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => void;

/** A unary gRPC handler from an async function: the reply, or the error mapped at this edge (and logged). */
export function unary<Req, Res>(
  log: Logger,
  name: string,
  fn: (req: Req, ctx: CallContext, call: ServerUnaryCall<Req, Res>) => Promise<Res>,
): UnaryHandler<Req, Res> {
  return (call, cb) => {
    let p: Promise<Res>;
    try {
      p = fn(call.request, callContext(call), call);
    } catch (err) {
      p = Promise.reject(err);
    }
    p.then(
      (res) => cb(null, res),
      (err: unknown) => {
        log.info({ rpc: name, err: err instanceof Error ? err.message : String(err) }, 'request refused or failed');
        cb(toServiceError(err));
      },
    );
  };
}

/**
 * Server options every fleetnet server uses. No channelz: its per-call bookkeeping was ~2 % of the
 * controller's CPU under an allocation burst, and nothing here reads it.
 */
export const SERVER_OPTIONS = { 'grpc.enable_channelz': 0 } as const;

/** Binds a grpc-js server; the port actually bound (filled in when :0 was asked). */
export function bindServer(server: Server, listen: string, creds: ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) =>
    server.bindAsync(listen, creds, (err, port) => (err ? reject(err) : resolve(port))),
  );
}

/** Logs loudly that a server answers calls without authorization, once per server start. */
export function warnUnauthorized(log: Logger, listen: string, why: string): void {
  log.warn(
    { listen, authorization: 'none' },
    `SERVING WITHOUT AUTHORIZATION on ${listen}: ${why}; anyone who reaches this address can give orders`,
  );
}

/** How long a stopping server lets the calls in flight finish before it cancels them. */
export const SHUTDOWN_GRACE_MS = 5000;

/**
 * Stops a server: no new calls, those in flight may finish; after graceMs, any still running (a stream nobody
 * ended, a long wait) is cancelled (forceShutdown), and the stop goes on without waiting for them: grpc-js 1.14
 * keeps the sessions forceShutdown destroys only in its channelz bookkeeping, which SERVER_OPTIONS turns off, so
 * it cancels none of them and tryShutdown would wait for the longest call (found: a stop held 57 s by one attach).
 */
export function shutdownServer(server: Server, graceMs = SHUTDOWN_GRACE_MS): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
