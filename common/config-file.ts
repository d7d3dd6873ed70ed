// Settings files (/etc/fleetnet/agent.yaml, /etc/fleetnet/controller.yaml, the CLI's config.yaml):
// YAML read with the `yaml` package (positions kept), checked with a strict zod schema, and every
// mistake reported as FILE:LINE: key, problem, fix (exit 2). Keys are the daemons' flag names
// (`state-dir`, `ovs-db`), so what `--help` teaches is what the file takes; flags override the file.
import { existsSync } from 'node:fs';
import { isMap, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import { readConfigText } from './config-file-text.js';
import { FleetnetError } from './errors.js';

export { readConfigText };

export const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
export const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * The file's schema from a settings schema: the same keys in kebab-case, each optional (the
 * settings schema's default applies when the key is absent), unknown keys refused.
 */
export function fileSchemaOf(shape: Record<string, z.ZodType>, omit: readonly string[] = []): z.ZodObject {
  const entries = Object.entries(shape)
    .filter(([k]) => !omit.includes(k))
    .map(([k, v]) => [kebab(k), (v instanceof z.ZodDefault ? (v.unwrap() as z.ZodType) : v).optional()] as const);
  return z.strictObject(Object.fromEntries(entries));
}

export interface ConfigFile {
  /** The file read, or undefined when the default file is absent. */
  path: string | undefined;
  /** The settings it holds, keys in camelCase as the settings schemas have them. */
  values: Record<string, unknown>;
}

function bad(path: string, line: number | undefined, message: string, hint: string): FleetnetError {
  return new FleetnetError('invalid', `${path}${line ? `:${line}` : ''}: ${message}`, { hint });
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

/**
 * Parses and checks YAML text against a file schema (kebab-case keys). `path` names the file in
 * errors. Returns the values with camelCase keys.
 */
export function parseConfigText(
  text: string,
  path: string,
  schema: z.ZodObject,
  helpCmd: string,
): Record<string, unknown> {
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
  const data: unknown = doc.toJS() ?? {};
  if (typeof data !== 'object' || Array.isArray(data))
    throw bad(path, 1, 'the file must be a mapping of `key: value` settings', `see ${helpCmd}`);
  const r = schema.safeParse(data);
  if (!r.success) {
    // an unknown key first: a misspelt key also makes the right one look missing
    const issue = r.error.issues.find((i) => i.code === 'unrecognized_keys') ?? r.error.issues[0]!;
    const known = Object.keys(schema.shape);
    if (issue.code === 'unrecognized_keys') {
      const key = issue.keys[0]!;
      const scope = issue.path.length ? ` under ${issue.path.join('.')}` : '';
      const near = issue.path.length ? undefined : nearest(key, known);
      throw bad(
        path,
        lineOf(doc, lc, issue.path, key),
        `unknown key '${key}'${scope}`,
        near ? `did you mean '${near}'?` : `remove it; known keys: ${known.join(', ')} (${helpCmd})`,
      );
    }
    const key = issue.path.join('.');
    const missing = issue.code === 'invalid_type' && / received undefined$/.test(issue.message);
    throw bad(
      path,
      lineOf(doc, lc, issue.path),
      missing ? `key '${key}' is missing` : `key '${key}': ${issue.message}`,
      missing ? `add '${key}' (${helpCmd})` : `give '${key}' a valid value (${helpCmd})`,
    );
  }
  return Object.fromEntries(Object.entries(r.data as Record<string, unknown>).map(([k, v]) => [camel(k), v]));
}

/**
 * Reads a settings file. `explicit` (from --config) must exist; the default path may be absent.
 */
export function readConfigFile(o: {
  explicit?: string | undefined;
  defaultPath: string;
  schema: z.ZodObject;
  helpCmd: string;
}): ConfigFile {
  const path = o.explicit ?? o.defaultPath;
  if (!existsSync(path)) {
    if (o.explicit)
      throw new FleetnetError('invalid', `config file ${path} does not exist`, {
        hint: 'give the path of an existing YAML file to --config',
      });
    return { path: undefined, values: {} };
  }
  return { path, values: parseConfigText(readConfigText(path), path, o.schema, o.helpCmd) };
}

/**
 * Settings from the file, then flags given on the command line (commander's value source 'cli' or
 * 'env'): flags win. Commander defaults do not count, so a file value is not overwritten by them.
 */
export function mergeFlags(
  file: Record<string, unknown>,
  flags: Record<string, unknown>,
  sourceOf: (key: string) => string | undefined,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...file };
  for (const [k, v] of Object.entries(flags)) {
    const src = sourceOf(k);
    if (v !== undefined && (src === 'cli' || src === 'env')) out[k] = v;
  }
  return out;
}

/** A settings object that failed its schema, as the flag a person would fix (exit 2). */
export function settingsError(
  who: 'agent' | 'controller',
  issue: { path: readonly PropertyKey[]; message: string },
): FleetnetError {
  return new FleetnetError(
    'invalid',
    `${who} setting --${issue.path.map((k) => kebab(String(k))).join('.')}: ${issue.message}`,
    { hint: `see: fleetnet ${who} run --help` },
  );
}
