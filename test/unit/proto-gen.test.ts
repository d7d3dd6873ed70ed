// The committed generated code must be exactly what Debian's protoc + ts-proto make from proto/.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { it } from 'node:test';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]));
}

it('proto/gen is up to date with proto/ (regenerated with protoc into a temporary folder)', () => {
  const out = mkdtempSync(join(tmpdir(), 'fleetnet-gen-'));
  try {
    execFileSync('bash', ['scripts/gen-proto.sh', out], { stdio: 'pipe' });
    const fresh = files(out)
      .map((f) => relative(out, f))
      .sort();
    const committed = files('proto/gen')
      .map((f) => relative('proto/gen', f))
      .sort();
    assert.deepEqual(committed, fresh, 'the generated file set differs: run npm run gen');
    for (const f of fresh) {
      assert.ok(
        readFileSync(join(out, f)).equals(readFileSync(join('proto/gen', f))),
        `proto/gen/${f} is stale: run npm run gen and commit`,
      );
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
