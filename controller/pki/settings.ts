// PKI settings, validated once: certificate lifetimes and the join-token lifetime.
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { invalid } from '../../common/errors.js';

const MIN = 60_000;
const DAY = 86_400_000;

export const PkiSettingsSchema = z.object({
  /** Host (agent) certificates are short-lived; `fleetnet host rotate-cert` renews them. */
  hostCertValidityMs: z.number().int().positive().default(30 * DAY),
  cliCertValidityMs: z.number().int().positive().default(90 * DAY),
  controllerCertValidityMs: z.number().int().positive().default(365 * DAY),
  joinTokenTtlMs: z.number().int().positive().default(15 * MIN),
});
export type PkiSettings = Readonly<z.infer<typeof PkiSettingsSchema>>;

export function pkiSettings(input: unknown): PkiSettings {
  const r = PkiSettingsSchema.safeParse(input ?? {});
  if (!r.success) throw invalid(`PKI settings are not valid: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, 'fix settings.json in the controller folder');
  return Object.freeze(r.data);
}

export function loadPkiSettings(path: string): PkiSettings {
  return pkiSettings(existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : {});
}

const UNIT: Record<string, number> = { ms: 1, s: 1000, m: MIN, h: 60 * MIN, d: DAY };

/** "1s", "15m", "30d", "500ms" -> milliseconds. */
export function parseDuration(s: string): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(s.trim());
  if (!m || Number(m[1]) <= 0) throw invalid(`duration "${s}" is not valid`, 'write a positive number with a unit: 500ms, 1s, 15m, 2h, 30d');
  return Number(m[1]) * (UNIT[m[2] as string] as number);
}
