// Waiting for what a test caused, without a timed assertion: poll a condition with a generous
// deadline and fail naming what never happened (and the condition's last error, if it threw).
import assert from 'node:assert/strict';

export async function eventually(
  what: string,
  cond: () => boolean | Promise<boolean>,
  o: { tries?: number; everyMs?: number } = {},
): Promise<void> {
  let lastError: unknown;
  for (let i = 0; i < (o.tries ?? 300); i++) {
    try {
      if (await cond()) return;
      lastError = undefined;
    } catch (e) {
      lastError = e; // not there yet (a command failing while the thing restarts): try again
    }
    await new Promise((r) => setTimeout(r, o.everyMs ?? 100));
  }
  const why =
    lastError === undefined
      ? ''
      : ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})`;
  assert.fail(`${what}: never happened${why}`);
}
