// The CLI's settings file (cli/client/cli-config.ts tells its form): read with the `yaml` package and checked
// here, once, without zod (which would cost every new CLI process more than its gRPC client); a mistake is
// reported as FILE:LINE: key, problem, fix (common/config-file-text.ts, exit 2). controllersFromFile is here
// too: choosing the controllers needs nothing else.
import { FleetnetError } from '../../common/errors.js';
import { configIssueError, parseConfigYaml, readConfigText, type ConfigIssue } from '../../common/config-file-text.js';
import { parseControllerList } from '../../common/rpc/controller-addresses.js';

/** A context's name: letters, digits, _ . - (a letter or digit first). */
export const CONTEXT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

export interface CliContext {
  controllers: string[];
  description?: string;
}

export interface CliConfig {
  path: string;
  currentContext?: string;
  contexts: Record<string, CliContext>;
  /** The single-controller form of earlier versions. */
  controller?: string;
}

const HELP = '"Configuration files" in the README';
const TOP = ['current-context', 'contexts', 'controller'] as const;
const CONTEXT = ['controllers', 'description'] as const;

class Refused {
  constructor(readonly issue: ConfigIssue) {}
}
const refuse = (issue: ConfigIssue): never => {
  throw new Refused(issue);
};

/** YAML read as Maps (toJS({ mapAsMap })), so that no key, `__proto__` included, is anything but a key. */
function keysOf(m: Map<unknown, unknown>, path: string[], known: readonly string[]): void {
  for (const k of m.keys()) {
    if (typeof k !== 'string' || !known.includes(k)) refuse({ path, unknown: { key: String(k), known } });
  }
}

function text(v: unknown, path: string[], what: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') refuse({ path, message: `must be ${what}` });
  return v as string;
}

function context(name: unknown, v: unknown): CliContext {
  const path = ['contexts', String(name)];
  if (typeof name !== 'string' || !CONTEXT_NAME.test(name))
    refuse({ path, atKey: true, message: 'a context name is letters, digits, _ . - (a letter or digit first)' });
  if (!(v instanceof Map)) return refuse({ path, message: 'must be a mapping with controllers: [ADDR:PORT, ...]' });
  keysOf(v, path, CONTEXT);
  const c: unknown = v.get('controllers');
  if (c === undefined) refuse({ path: [...path, 'controllers'], missing: true });
  if (!Array.isArray(c) || c.length === 0 || !c.every((x) => typeof x === 'string' && x.length > 0))
    refuse({ path: [...path, 'controllers'], message: 'must be a list of at least one controller ADDR:PORT' });
  const description = v.get('description');
  if (description !== undefined && typeof description !== 'string')
    refuse({ path: [...path, 'description'], message: 'must be text' });
  return {
    controllers: c as string[],
    ...(description !== undefined ? { description: description as string } : {}),
  };
}

/** The settings of a parsed file (Maps for mappings), or the first thing wrong with them. */
export function checkCliConfig(data: unknown, path: string): CliConfig | ConfigIssue {
  try {
    if (data === null || data === undefined) return { path, contexts: {} }; // an empty file
    if (!(data instanceof Map)) return { path: [], message: 'the file must be a mapping of `key: value` settings' };
    keysOf(data, [], TOP);
    const cur = text(data.get('current-context'), ['current-context'], 'the name of a context');
    const controller = text(data.get('controller'), ['controller'], 'one controller ADDR:PORT');
    const raw = data.get('contexts');
    if (raw !== undefined && raw !== null && !(raw instanceof Map))
      refuse({ path: ['contexts'], message: 'must be a mapping of context names to { controllers: [...] }' });
    const contexts: Record<string, CliContext> = {};
    for (const [name, v] of (raw as Map<unknown, unknown> | null) ?? []) contexts[name as string] = context(name, v);
    if (cur !== undefined && !Object.hasOwn(contexts, cur)) {
      const known = Object.keys(contexts);
      refuse({
        path: ['current-context'],
        message: `names no context (${known.length ? `known: ${known.join(', ')}` : 'the file has no contexts:'})`,
      });
    }
    if (cur !== undefined && controller !== undefined) {
      refuse({
        path: ['controller'],
        message: 'and current-context both choose the controller: move it into a context and remove this line',
      });
    }
    return {
      path,
      contexts,
      ...(cur !== undefined ? { currentContext: cur } : {}),
      ...(controller !== undefined ? { controller } : {}),
    };
  } catch (err) {
    if (err instanceof Refused) return err.issue;
    throw err;
  }
}

/** The settings in `text`, read from the file `path`; FILE:LINE errors (exit 2) for anything wrong. */
export function parseCliConfig(text: string, path: string): CliConfig {
  const y = parseConfigYaml(text, path);
  const r = checkCliConfig(y.doc.toJS({ mapAsMap: true }), path);
  if (!('contexts' in r)) throw configIssueError(y, path, r, HELP);
  checkAddresses(r);
  return r;
}

/** The settings file at `path`, read and checked. */
export function readCliConfig(path: string): CliConfig {
  return parseCliConfig(readConfigText(path), path);
}

/** Every controller address of the file checked, so that a typo is reported against this file. */
function checkAddresses(cfg: CliConfig): void {
  for (const [name, c] of Object.entries(cfg.contexts)) {
    for (const a of c.controllers) parseControllerList(a, `${cfg.path}: contexts.${name}.controllers`);
  }
  if (cfg.controller) parseControllerList(cfg.controller, `${cfg.path}: controller`);
}

/**
 * The controllers the file chooses: those of `context` (from --context or FLEETNET_CONTEXT) when
 * given, else of the current context, else `controller:`; undefined when it chooses none.
 */
export function controllersFromFile(
  cfg: CliConfig,
  context: { name: string; from: string } | undefined,
): { addrs: string; from: string } | undefined {
  const name = context?.name ?? cfg.currentContext;
  if (name !== undefined) {
    const c = cfg.contexts[name];
    if (!c) {
      const known = Object.keys(cfg.contexts);
      const from = context?.from ?? 'current-context';
      throw new FleetnetError('invalid', `context '${name}' (${from}) is not in ${cfg.path}`, {
        hint: known.length ? `choose one of: ${known.join(', ')}` : 'add it under contexts: in that file',
      });
    }
    return { addrs: c.controllers.join(','), from: `${cfg.path} (context ${name})` };
  }
  return cfg.controller ? { addrs: cfg.controller, from: cfg.path } : undefined;
}
