// FleetnetError <-> gRPC status, at the edges only. The kind and hint travel as metadata.
import { Metadata, status, type ServiceError, type StatusObject } from '@grpc/grpc-js';
import { FleetnetError, type ErrorKind } from './errors.js';

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

export function fromServiceError(err: unknown, peer = 'the agent'): FleetnetError {
  const e = err as ServiceError;
  if (typeof e?.code !== 'number') return new FleetnetError('failed', String(err), { cause: err });
  const kind = e.metadata?.get('fleetnet-kind')[0] as ErrorKind | undefined;
  const hintBuf = e.metadata?.get('fleetnet-hint-bin')[0];
  const hint = hintBuf === undefined ? undefined : Buffer.isBuffer(hintBuf) ? hintBuf.toString('utf8') : String(hintBuf);
  if (kind) return new FleetnetError(kind, e.details, { cause: err, ...(hint ? { hint } : {}) });
  if (e.code === status.UNAVAILABLE) return new FleetnetError('unavailable', `${peer} does not answer (${e.details})`, { cause: err });
  if (e.code === status.DEADLINE_EXCEEDED) return new FleetnetError('unavailable', `${peer} did not answer in time`, { cause: err });
  if (e.code === status.UNAUTHENTICATED || e.code === status.PERMISSION_DENIED) return new FleetnetError('permission', e.details, { cause: err });
  return new FleetnetError('failed', e.details || e.message, { cause: err });
}
