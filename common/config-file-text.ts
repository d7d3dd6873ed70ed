// A settings file's text and YAML, and its mistakes reported as FILE:LINE: key, problem, fix (exit 2), for
// common/config-file.ts (zod schemas) and for the CLI's config.yaml, whose one checker needs no zod
// (cli/client/cli-config-check.ts): nothing here loads zod.
import { readFileSync } from 'node:fs';
import { isMap, LineCounter, parseDocument, type Document } from 'yaml';
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

/** What is wrong with one key of a settings file. */
export interface ConfigIssue {
  /** Where: the keys from the top of the file down to the mapping or value at fault. */
  path: readonly PropertyKey[];
  /** An unknown key found in the mapping at `path`, with the keys that mapping takes. */
  unknown?: { key: string; known: readonly string[] };
  /** The key at `path` is required and absent. */
  missing?: boolean;
  /** The last key of `path` is itself at fault (its name), not its value. */
  atKey?: boolean;
  message?: string;
}

export interface ConfigYaml {
  doc: Document;
  lc: LineCounter;
}

export function bad(path: string, line: number | undefined, message: string, hint: string): FleetnetError {
  return new FleetnetError('invalid', `${path}${line ? `:${line}` : ''}: ${message}`, { hint });
}

/** The file's YAML, kept with its positions; a syntax error is reported at its line. */
export function parseConfigYaml(text: string, path: string): ConfigYaml {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0].line ?? lc.linePos(e.pos[0]).line;
    throw bad(
      path,
      line,
      `not valid YAML: ${e.message.split('\n')[0]}`,
      'fix the YAML syntax there (indentation, quotes, `key: value` pairs)',
    );
  }
  return { doc, lc };
}

function lineOf(doc: Document, lc: LineCounter, keyPath: readonly PropertyKey[], key?: string): number | undefined {
  // a key that is missing: the line of the nearest mapping that should hold it
  if (keyPath.length && !doc.hasIn(keyPath as unknown[]))
    return lineOf(doc, lc, keyPath.slice(0, -1), String(keyPath.at(-1)));
  const parent = keyPath.length ? doc.getIn(keyPath as unknown[], true) : doc.contents;
  let node: unknown = parent;
  if (key !== undefined && isMap(parent))
    node = parent.items.find((p) => (p.key as { value?: unknown } | null)?.value === key)?.key ?? parent;
  const range = (node as { range?: [number, number, number] } | null)?.range;
  return range ? lc.linePos(range[0]).line : undefined;
}

function nearest(word: string, known: readonly string[]): string | undefined {
  const dist = (a: string, b: string) => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0]![j] = j;
    for (let i = 1; i <= a.length; i++) {
      for (let j = 1; j <= b.length; j++)
        d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    return d[a.length]![b.length]!;
  };
  const best = known.map((k) => ({ k, d: dist(word, k) })).sort((x, y) => x.d - y.d)[0];
  return best && best.d <= Math.max(2, Math.floor(word.length / 3)) ? best.k : undefined;
}

/** The error for an issue, at the line of the key it is about, with the fix. */
export function configIssueError(y: ConfigYaml, path: string, issue: ConfigIssue, helpCmd: string): FleetnetError {
  const { doc, lc } = y;
  if (issue.unknown) {
    const { key, known } = issue.unknown;
    const scope = issue.path.length ? ` under ${issue.path.join('.')}` : '';
    const near = nearest(key, known);
    return bad(
      path,
      lineOf(doc, lc, issue.path, key),
      `unknown key '${key}'${scope}`,
      near ? `did you mean '${near}'?` : `remove it; known keys: ${known.join(', ')} (${helpCmd})`,
    );
  }
  if (!issue.path.length) return bad(path, 1, issue.message ?? 'not valid', `see ${helpCmd}`);
  const key = issue.path.join('.');
  return bad(
    path,
    issue.atKey ? lineOf(doc, lc, issue.path.slice(0, -1), String(issue.path.at(-1))) : lineOf(doc, lc, issue.path),
    issue.missing ? `key '${key}' is missing` : `key '${key}': ${issue.message}`,
    issue.missing ? `add '${key}' (${helpCmd})` : `give '${key}' a valid value (${helpCmd})`,
  );
}
