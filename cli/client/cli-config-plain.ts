// The CLI's settings file on the path every command takes (cli/client/controller-address.ts): a file that
// is plainly right is read with the `yaml` package and taken as it is, without loading zod (which costs a
// new CLI process more than its gRPC client: ~1.8x the CPU of `fleetnet attach` with --controller).
// Anything this check does not accept, it leaves to cli/client/cli-config.ts, whose zod schema is the
// rule and gives the FILE:LINE message; test/unit/cli-config-plain.test.ts holds the two to the same
// answers. controllersFromFile is here too: choosing the controllers needs no schema.
import { parseDocument } from 'yaml';
import { FleetnetError } from '../../common/errors.js';
import { parseControllerList } from '../../common/rpc/controller-addresses.js';

/** A context's name (cli/client/cli-config.ts checks it with the same pattern). */
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

const isMapping = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
const onlyKeys = (v: Record<string, unknown>, keys: readonly string[]) => Object.keys(v).every((k) => keys.includes(k));
const optString = (v: unknown) => v === undefined || typeof v === 'string';

function plainContext(v: unknown): CliContext | undefined {
  if (!isMapping(v) || !onlyKeys(v, ['controllers', 'description']) || !optString(v.description)) return undefined;
  const c = v.controllers;
  if (!Array.isArray(c) || c.length === 0 || !c.every((x) => typeof x === 'string' && x.length > 0)) return undefined;
  return {
    controllers: c as string[],
    ...(v.description !== undefined ? { description: v.description as string } : {}),
  };
}

/**
 * The settings in `text` when they are plainly valid (valid YAML, only known keys of the right types, a
 * current-context that names a context, not both current-context and controller:); undefined for anything
 * else, which the zod schema then judges and explains. Addresses are checked by the caller, as for the schema.
 */
export function plainCliConfig(text: string, path: string): CliConfig | undefined {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length) return undefined;
  const data: unknown = doc.toJS() ?? {};
  if (!isMapping(data) || !onlyKeys(data, ['current-context', 'contexts', 'controller'])) return undefined;
  const cur = data['current-context'];
  const controller = data.controller;
  if (!optString(cur) || !optString(controller) || controller === '') return undefined;
  const contexts: Record<string, CliContext> = {};
  if (data.contexts !== undefined) {
    if (!isMapping(data.contexts)) return undefined;
    for (const [name, v] of Object.entries(data.contexts)) {
      const c = plainContext(v);
      if (!c || !CONTEXT_NAME.test(name)) return undefined;
      contexts[name] = c;
    }
  }
  if (cur !== undefined && (!Object.hasOwn(contexts, cur as string) || controller !== undefined)) return undefined;
  return {
    path,
    contexts,
    ...(cur !== undefined ? { currentContext: cur as string } : {}),
    ...(controller !== undefined ? { controller: controller as string } : {}),
  };
}

/** Every controller address of the file checked, so that a typo is reported against this file. */
export function checkAddresses(cfg: CliConfig): void {
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
