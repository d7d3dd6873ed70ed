// A settings file's text (common/config-file.ts), on its own so that a reader that needs no schema (the
// CLI's plainly right config.yaml, cli/client/cli-config-plain.ts) loads no zod with it.
import { readFileSync } from 'node:fs';
import { FleetnetError } from './errors.js';

/** A config file's text; a file that cannot be read is bad input (exit 2), named with the fix. */
export function readConfigText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new FleetnetError('invalid', `cannot read config file ${path}`, {
      cause: err,
      hint: 'check that it is a readable file',
    });
  }
}
