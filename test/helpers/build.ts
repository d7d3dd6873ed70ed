// Tests that start `fleetnet` processes (lab agents, the CLI) need the bundle: build it once when missing.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ExecRunner, type Runner } from '../../common/runner.js';
import { fleetnetRoot } from '../../lab/agents.js';

export async function ensureBuilt(runner: Runner = new ExecRunner()): Promise<string> {
  const root = fleetnetRoot();
  // bin/fleetnet.cjs runs the entry, which requires the fast bundle or the whole CLI
  if (['fleetnet.cjs', 'fleetnet-fast.cjs', 'fleetnet-all.cjs'].some((f) => !existsSync(join(root, 'dist', f))))
    await runner.run('npm', ['--prefix', root, 'run', 'build'], { timeoutMs: 120_000 });
  return join(root, 'bin', 'fleetnet.cjs');
}
