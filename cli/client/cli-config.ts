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
// when no context is chosen. Read with the `yaml` package and checked with zod (common/config-file.ts:
// FILE:LINE, the key, the fix; exit 2). Loaded only when such a file exists (cli/client/controller-address.ts).
import { renameSync, writeFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { parseConfigText, readConfigText } from '../../common/config-file.js';
import { FleetnetError } from '../../common/errors.js';
import { parseControllerList } from '../../common/rpc/controller-addresses.js';

const CONTEXT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

const ContextSchema = z.strictObject({
  controllers: z.array(z.string().min(1)).min(1, 'give at least one controller ADDR:PORT'),
  description: z.string().optional(),
});

const CliConfigSchema = z
  .strictObject({
    'current-context': z.string().optional(),
    contexts: z
      .record(z.string().regex(CONTEXT_NAME, 'a context name is letters, digits, _ . -'), ContextSchema)
      .optional(),
    controller: z.string().min(1).optional(),
  })
  .superRefine((c, ctx) => {
    const cur = c['current-context'];
    if (cur !== undefined && !Object.hasOwn(c.contexts ?? {}, cur)) {
      const known = Object.keys(c.contexts ?? {});
      ctx.addIssue({
        code: 'custom',
        path: ['current-context'],
        message: `names no context (${known.length ? `known: ${known.join(', ')}` : 'the file has no contexts:'})`,
      });
    }
    if (cur !== undefined && c.controller !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['controller'],
        message: 'and current-context both choose the controller: move it into a context and remove this line',
      });
    }
  });

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

const HELP = 'see "Configuration files" in the README';

function read(path: string): { text: string; config: CliConfig } {
  const text = readConfigText(path);
  const v = parseConfigText(text, path, CliConfigSchema as unknown as z.ZodObject, HELP) as {
    currentContext?: string;
    contexts?: Record<string, CliContext>;
    controller?: string;
  };
  // every controller address is checked here, so a typo is reported against this file
  for (const [name, c] of Object.entries(v.contexts ?? {})) {
    for (const a of c.controllers) parseControllerList(a, `${path}: contexts.${name}.controllers`);
  }
  if (v.controller) parseControllerList(v.controller, `${path}: controller`);
  return {
    text,
    config: {
      path,
      contexts: v.contexts ?? {},
      ...(v.currentContext !== undefined ? { currentContext: v.currentContext } : {}),
      ...(v.controller !== undefined ? { controller: v.controller } : {}),
    },
  };
}

export function readCliConfig(path: string): CliConfig {
  return read(path).config;
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

/** Makes `name` the current context, keeping the file's comments and layout; written atomically. */
export function useContext(path: string, name: string): void {
  const { text, config } = read(path);
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
