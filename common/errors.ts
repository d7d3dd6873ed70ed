// Typed errors. Kinds map to CLI exit codes and gRPC status codes only at the edges.
export type ErrorKind =
  | 'invalid' // bad usage or input: exit 2
  | 'not_found' // a named thing does not exist: exit 2
  | 'ambiguous' // a name matches more than one thing: exit 2
  | 'conflict' // refused because of existing state (address taken, other settings): exit 1
  | 'unsupported' // this host cannot do it (kernel feature, missing tool): exit 1
  | 'failed' // a command or step failed: exit 1
  | 'unavailable' // a peer (agent, controller, docker) does not answer: exit 1
  | 'pending' // accepted, not yet done: exit 3
  | 'permission'; // not allowed: exit 1

export interface ErrorOptions {
  cause?: unknown;
  hint?: string;
}

export class FleetnetError extends Error {
  readonly kind: ErrorKind;
  readonly hint?: string;
  constructor(kind: ErrorKind, message: string, opts: ErrorOptions = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'FleetnetError';
    this.kind = kind;
    if (opts.hint) this.hint = opts.hint;
  }
}

export const invalid = (message: string, hint?: string) => new FleetnetError('invalid', message, { hint });
export const notFound = (message: string, hint?: string) => new FleetnetError('not_found', message, { hint });
export const conflict = (message: string, hint?: string) => new FleetnetError('conflict', message, { hint });
export const unsupported = (message: string, hint?: string) => new FleetnetError('unsupported', message, { hint });
export const failed = (message: string, cause?: unknown) => new FleetnetError('failed', message, { cause });

export function exitCodeOf(err: unknown): number {
  if (!(err instanceof FleetnetError)) return 1;
  switch (err.kind) {
    case 'invalid':
    case 'not_found':
    case 'ambiguous':
      return 2;
    case 'pending':
      return 3;
    default:
      return 1;
  }
}

/** The one-line message a person reads: what went wrong, then what to do. */
export function describeError(err: unknown): string {
  if (err instanceof FleetnetError) return err.hint ? `${err.message}\n  hint: ${err.hint}` : err.message;
  if (err instanceof Error) return err.message;
  return String(err);
}
