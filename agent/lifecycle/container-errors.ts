// What a failed container look-up says about the container: gone (released) or only not running
// (stopped); anything else is a failure to retry. The lifecycle pass and the label attaches read it alike.
import { FleetnetError } from '../../common/errors.js';

export function isGone(err: unknown): boolean {
  return err instanceof FleetnetError && err.kind === 'not_found';
}

export function isNotRunning(err: unknown): boolean {
  return err instanceof FleetnetError && err.kind === 'failed' && /is not running/.test(err.message);
}
