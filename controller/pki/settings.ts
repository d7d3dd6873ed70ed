// PKI settings, validated once: certificate lifetimes and the join-token lifetime.
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { invalid } from '../../common/errors.js';

const MIN = 60_000;
const DAY = 86_400_000;

export const PkiSettingsSchema = z.object({
  /** Host (agent) certificates are short-lived; `fleetnet host rotate-cert` renews them. */
  hostCertValidityMs: z
    .number()
    .int()
    .positive()
    .default(30 * DAY),
  cliCertValidityMs: z
    .number()
    .int()
    .positive()
    .default(90 * DAY),
  controllerCertValidityMs: z
    .number()
    .int()
    .positive()
    .default(365 * DAY),
  joinTokenTtlMs: z
    .number()
    .int()
    .positive()
    .default(15 * MIN),
});
export type PkiSettings = Readonly<z.infer<typeof PkiSettingsSchema>>;

export function pkiSettings(input: unknown): PkiSettings {
  const r = PkiSettingsSchema.safeParse(input ?? {});
  if (!r.success)
    throw invalid(
      `PKI settings are not valid: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      'fix settings.json in the controller folder',
    );
  return Object.freeze(r.data);
}

export function loadPkiSettings(path: string): PkiSettings {
  return pkiSettings(existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : {});
}

// Durations are parsed where flags are (common/flag-values.ts): the CLI reads them too.
export { parseDuration } from '../../common/flag-values.js';
