// gRPC status codes (numbers fixed by the gRPC protocol) and the mapping from a failed call back to
// a FleetnetError (with the failed call as its `cause`). No @grpc/grpc-js import: the CLI uses it.
import { FleetnetError, type ErrorKind } from '../errors.js';

export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** The parts of a failed call that the mapping reads (grpc-js's ServiceError has them). */
export interface CallFailure {
  code: number;
  details: string;
  message?: string;
  metadata?: { get(key: string): unknown[] };
}

export function fromServiceError(err: unknown, peer = 'the agent'): FleetnetError {
  const e = err as CallFailure;
  if (typeof e?.code !== 'number') return new FleetnetError('failed', String(err), { cause: err });
  const kind = e.metadata?.get('fleetnet-kind')[0] as ErrorKind | undefined;
  const hintBuf = e.metadata?.get('fleetnet-hint-bin')[0];
  const hint =
    hintBuf === undefined ? undefined : Buffer.isBuffer(hintBuf) ? hintBuf.toString('utf8') : String(hintBuf);
  if (kind) return new FleetnetError(kind, e.details, { cause: err, ...(hint ? { hint } : {}) });
  if (e.code === GrpcStatus.UNAVAILABLE)
    return new FleetnetError('unavailable', `${peer} does not answer (${causeOf(e)})`, { cause: err });
  if (e.code === GrpcStatus.DEADLINE_EXCEEDED)
    return new FleetnetError('unavailable', `${peer} did not answer in time`, { cause: err });
  if (e.code === GrpcStatus.UNAUTHENTICATED || e.code === GrpcStatus.PERMISSION_DENIED)
    return new FleetnetError('permission', e.details, { cause: err });
  return new FleetnetError('failed', e.details || e.message || `gRPC status ${e.code}`, { cause: err });
}

/**
 * grpc-js's words for a connection that failed, without its scaffolding: "No connection established. Last error:
 * Error: connect ECONNREFUSED 10.0.0.5:7441. Resolution note: " → "connect ECONNREFUSED 10.0.0.5:7441".
 */
export function plainDetails(details: string): string {
  const m = /^No connection established\. Last error: (?:Error: )?(.*?)\.?(?: Resolution note: (.*))?$/s.exec(details);
  if (!m) return details;
  const last = m[1] === 'null' || m[1] === 'undefined' ? '' : m[1]!; // grpc-js kept no error of the attempt
  const note = m[2]?.trim() ?? '';
  return last && note ? `${last}; ${note}` : last || note;
}

/**
 * Why an UNAVAILABLE call failed, never "null": grpc-js's details without scaffolding, else the error's message
 * if it says more, else the status itself (grpc-js sometimes keeps no cause of a refused connection).
 */
function causeOf(e: CallFailure): string {
  const said = (s: unknown) => (typeof s === 'string' && !/^(null|undefined)?$/.test(s.trim()) ? s.trim() : '');
  const details = said(e.details) && plainDetails(e.details);
  if (details) return details;
  const message = said(said(e.message).replace(/^14 UNAVAILABLE:\s*/, ''));
  if (message && !message.startsWith('No connection established')) return message;
  return 'no connection: gRPC status 14 UNAVAILABLE with no cause given';
}
