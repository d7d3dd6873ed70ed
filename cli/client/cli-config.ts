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
// FILE:LINE, the key, the fix; exit 2). Loaded only when such a file exists and is not plainly right
// (cli/client/cli-config-plain.ts reads that one without zod), or to change it.
import { renameSync, writeFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { parseConfigText, readConfigText } from '../../common/config-file.js';
import { FleetnetError } from '../../common/errors.js';
import { checkAddresses, CONTEXT_NAME, type CliConfig, type CliContext } from './cli-config-plain.js';

export { controllersFromFile, type CliConfig, type CliContext } from './cli-config-plain.js';

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

const HELP = 'see "Configuration files" in the README';

function read(path: string): { text: string; config: CliConfig } {
  const text = readConfigText(path);
  const v = parseConfigText(text, path, CliConfigSchema as unknown as z.ZodObject, HELP) as {
    currentContext?: string;
    contexts?: Record<string, CliContext>;
    controller?: string;
  };
  const config: CliConfig = {
    path,
    contexts: v.contexts ?? {},
    ...(v.currentContext !== undefined ? { currentContext: v.currentContext } : {}),
    ...(v.controller !== undefined ? { controller: v.controller } : {}),
  };
  checkAddresses(config);
  return { text, config };
}

export function readCliConfig(path: string): CliConfig {
  return read(path).config;
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
