// Settings files (/etc/fleetnet/agent.yaml, /etc/fleetnet/controller.yaml, the CLI's config.yaml):
// YAML read with the `yaml` package (positions kept), checked with a strict zod schema, and every
// mistake reported as FILE:LINE: key, problem, fix (exit 2). Keys are the daemons' flag names
// (`state-dir`, `ovs-db`), so what `--help` teaches is what the file takes; flags override the file.
import { existsSync } from 'node:fs';
import { z } from 'zod';
import { bad, configIssueError, parseConfigYaml, readConfigText, type ConfigIssue } from './config-file-text.js';
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
  const y = parseConfigYaml(text, path);
  const data: unknown = y.doc.toJS() ?? {};
  if (typeof data !== 'object' || Array.isArray(data))
    throw bad(path, 1, 'the file must be a mapping of `key: value` settings', `see ${helpCmd}`);
  const r = schema.safeParse(data);
  if (!r.success) {
    // an unknown key first: a misspelt key also makes the right one look missing
    const issue = r.error.issues.find((i) => i.code === 'unrecognized_keys') ?? r.error.issues[0]!;
    const report: ConfigIssue =
      issue.code === 'unrecognized_keys'
        ? { path: issue.path, unknown: { key: issue.keys[0]!, known: keysAt(schema, issue.path) } }
        : issue.code === 'invalid_type' && / received undefined$/.test(issue.message)
          ? { path: issue.path, missing: true }
          : { path: issue.path, message: issue.message };
    throw configIssueError(y, path, report, helpCmd);
  }
  return Object.fromEntries(Object.entries(r.data as Record<string, unknown>).map(([k, v]) => [camel(k), v]));
}

/** The keys the object schema at `path` takes (objects nested in optional objects followed; else none). */
function keysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let s: z.ZodType | undefined = schema;
  for (const k of path) {
    while (s instanceof z.ZodOptional || s instanceof z.ZodDefault) s = s.unwrap() as z.ZodType;
    s = s instanceof z.ZodObject ? (s.shape as Record<string, z.ZodType>)[String(k)] : undefined;
  }
  while (s instanceof z.ZodOptional || s instanceof z.ZodDefault) s = s.unwrap() as z.ZodType;
  return s instanceof z.ZodObject ? Object.keys(s.shape) : [];
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
