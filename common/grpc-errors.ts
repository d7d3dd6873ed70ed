// FleetnetError -> gRPC status, at a server's edge. The kind and hint travel as metadata.
// (The way back, for clients, is common/grpc-status.ts: it needs no grpc-js.)
import { Metadata, status, type StatusObject } from '@grpc/grpc-js';
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
