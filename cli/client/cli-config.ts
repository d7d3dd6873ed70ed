// The CLI's settings file (~/.config/fleetnet/config.yaml, or --config FILE / FLEETNET_CONFIG):
// named contexts, each a fleet's controllers, and which one is current, as kubectl keeps clusters.
//
//   current-context: prod
//   contexts:
//     prod:
//       controllers: [10.0.0.2:7440, 10.0.0.3:7440]   # one fleet's controllers, the first that answers
//     lab:
//       controllers: [10.99.0.2:7440]
//
// The one-line form of earlier versions (`controller: ADDR:PORT`) is still read, as the controller
// when no context is chosen. Read and checked by cli/client/cli-config-check.ts (FILE:LINE, the key, the fix;
// exit 2); this module changes the file.
import { renameSync, writeFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { readConfigText } from '../../common/config-file-text.js';
import { FleetnetError } from '../../common/errors.js';
import { parseCliConfig } from './cli-config-check.js';

export { controllersFromFile, readCliConfig, type CliConfig, type CliContext } from './cli-config-check.js';

/** Makes `name` the current context, keeping the file's comments and layout; written atomically. */
export function useContext(path: string, name: string): void {
  const text = readConfigText(path);
  const config = parseCliConfig(text, path);
  if (!Object.hasOwn(config.contexts, name)) {
    const known = Object.keys(config.contexts);
    throw new FleetnetError('invalid', `context '${name}' is not in ${path}`, {
      hint: known.length ? `choose one of: ${known.join(', ')}` : 'add it under contexts: in that file first',
    });
  }
  const doc = parseDocument(text);
  doc.set('current-context', name);
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, doc.toString(), { mode: 0o600 });
  renameSync(tmp, path);
}
