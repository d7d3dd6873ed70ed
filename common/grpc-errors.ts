// FleetnetError -> gRPC status, at a server's edge. The kind and hint travel as metadata.
// (The way back, for clients, is common/grpc-status.ts: it needs no grpc-js.)
import { Metadata, status, type sendUnaryData, type ServerUnaryCall, type StatusObject } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { FleetnetError, type ErrorKind } from './errors.js';

export { fromServiceError } from './grpc-status.js';

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

/** What `unary` hands to grpc-js: its handler, carrying the function it wraps (for direct serving). */
export type UnaryHandler<Req, Res> = ((call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => void) & { run: (req: Req) => Promise<Res> };

/**
 * A unary gRPC handler from an async function: the reply, or the error mapped at this edge (and
 * logged). `run` is the function itself, for common/grpc-direct-unary.ts, which serves the same
 * method on node:http2 without grpc-js's call machinery and must behave the same.
 */
export function unary<Req, Res>(log: Logger, name: string, fn: (req: Req) => Promise<Res>): UnaryHandler<Req, Res> {
  const run = (req: Req): Promise<Res> => fn(req).catch((err: unknown) => {
    log.info({ rpc: name, err: err instanceof Error ? err.message : String(err) }, 'request refused or failed');
    throw err;
  });
  const handler = (call: ServerUnaryCall<Req, Res>, cb: sendUnaryData<Res>) => {
    run(call.request).then((res) => cb(null, res), (err: unknown) => cb(toServiceError(err)));
  };
  return Object.assign(handler, { run });
}
