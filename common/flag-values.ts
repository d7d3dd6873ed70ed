// Flag values (commander gives strings), checked at the edge. Light on purpose: command modules
// import it at their top, and every CLI process loads those.
import { invalid } from './errors.js';

/** A whole-number flag value; undefined stays undefined. */
export function wholeNumber(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw invalid(`${what} '${v}' is not a whole number`);
  return Number(v);
}
