// Waiting for what a test caused, without a timed assertion: poll a condition with a generous
// deadline and fail naming what never happened.
import assert from 'node:assert/strict';

export async function eventually(
  what: string,
  cond: () => boolean | Promise<boolean>,
  o: { tries?: number; everyMs?: number } = {},
): Promise<void> {
  for (let i = 0; i < (o.tries ?? 300); i++) {
    if (
      await Promise.resolve()
        .then(cond)
        .catch(() => false)
    )
      return;
    await new Promise((r) => setTimeout(r, o.everyMs ?? 100));
  }
  assert.fail(`${what}: never happened`);
}
