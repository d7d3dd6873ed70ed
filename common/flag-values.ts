// Flag values (commander gives strings), checked at the edge. Light on purpose: command modules
// import it at their top, and every CLI process loads those.
import { invalid } from './errors.js';

/** A whole-number flag value; undefined stays undefined. */
export function wholeNumber(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw invalid(`${what} '${v}' is not a whole number`);
  return Number(v);
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "1s", "15m", "30d", "500ms" -> milliseconds; `what` names the flag in the error. */
export function parseDuration(s: string, what = 'duration'): number {
  const m = /^(\d+)(ms|s|m|h|d)$/.exec(s.trim());
  if (!m || Number(m[1]) <= 0) {
    const flag = what === 'duration' ? '' : `${what}: `;
    throw invalid(
      `${flag}duration "${s}" is not valid`,
      'write a positive number with a unit: 500ms, 1s, 15m, 2h, 30d',
    );
  }
  return Number(m[1]) * (UNIT_MS[m[2] as string] as number);
}
