// One iproute2 batch line from tokens; the tokens were validated upstream, this is the last guard
// against injection into a batch.
import { invalid } from '../../common/errors.js';

export function line(...tokens: (string | number)[]): string {
  for (const t of tokens) {
    const s = String(t);
    if (s === '' || /[\s"'\\#]/.test(s))
      throw invalid(`refusing to pass '${s}' to ip: empty or contains whitespace or quotes`);
  }
  return tokens.join(' ');
}
