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
import { isDeepStrictEqual } from 'node:util';
import { isMap, isScalar, parseDocument, Scalar, stringify } from 'yaml';
import { readConfigText } from '../../common/config-file-text.js';
import { FleetnetError } from '../../common/errors.js';
import { parseCliConfig } from './cli-config-check.js';

export { controllersFromFile, readCliConfig, type CliConfig, type CliContext } from './cli-config-check.js';

/**
 * Makes `name` the current context, keeping the file as its author wrote it (comments, flow lists, quoting, line
 * lengths); written atomically, and only once the CLI reads the new text back as meant.
 */
export function useContext(path: string, name: string): void {
  const text = readConfigText(path);
  const config = parseCliConfig(text, path);
  if (!Object.hasOwn(config.contexts, name)) {
    const known = Object.keys(config.contexts);
    throw new FleetnetError('invalid', `context '${name}' is not in ${path}`, {
      hint: known.length ? `choose one of: ${known.join(', ')}` : 'add it under contexts: in that file first',
    });
  }
  const next = withCurrentContext(text, name);
  parseCliConfig(next, path); // e.g. a `controller:` line beside a current context: refused, the file unchanged
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, next, { mode: 0o600 });
  renameSync(tmp, path);
}

/**
 * The text with `current-context: name`, changed where it stands (or added as the first key) and nothing else
 * touched. The Document API alone would print the whole file again: a flow map past 80 columns broken over lines,
 * `[a, b]` padded to `[ a, b ]`, long strings folded. Where the text cannot be changed in place so that it reads
 * back as meant, the document is printed with the options that keep most of it.
 */
function withCurrentContext(text: string, name: string): string {
  const doc = parseDocument(text);
  const node = doc.get('current-context', true);
  const root = doc.contents;
  let next: string | undefined;
  if (isScalar(node) && node.range && node.value !== null) {
    next = text.slice(0, node.range[0]) + scalarText(name, node.type) + text.slice(node.range[1]);
  } else if (node === undefined && isMap(root) && !root.flow && root.range) {
    const at = root.range[0];
    next = `${text.slice(0, at)}current-context: ${scalarText(name)}\n${text.slice(at)}`;
  }
  const want = { ...(doc.toJS() as object), 'current-context': name };
  if (next !== undefined && isDeepStrictEqual(parseDocument(next).toJS(), want)) return next;
  doc.set('current-context', name);
  return doc.toString({ flowCollectionPadding: false, lineWidth: 0 });
}

/** A context name as YAML, in the quoting its old value had (plain when that needs none). */
function scalarText(name: string, type?: Scalar['type']): string {
  if (type === Scalar.QUOTE_DOUBLE) return JSON.stringify(name);
  if (type === Scalar.QUOTE_SINGLE) return `'${name.replaceAll("'", "''")}'`;
  return stringify(name).trimEnd();
}
