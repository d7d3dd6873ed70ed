// A controller on a unix socket with agents in memory, and a `cli(...args)` that runs fleetnet
// against it as a separate process with no user config in reach (asynchronously: the controller
// answers from the test's own process).
import assert from 'node:assert/strict';
import { silentLogger } from '../../common/logger.js';
import { ExecRunner } from '../../common/runner.js';
import { controllerConfig } from '../../controller/config.js';
import { startController } from '../../controller/main.js';
import type { MeshLinkFactory } from '../../controller/mesh/push.js';
import { fakeFleet } from './controller-fake-agent.js';
import { tempStore } from './controller-store.js';

/** Agents' mesh side in memory that take every push and have no tunnels to show. */
export const quietMeshLinks: MeshLinkFactory = () => ({
  applyMesh: async (spec) => ({ generation: spec.generation, added: 0, removed: 0, kept: 0, changes: 0, errors: [] }),
  meshStatus: async () => ({ generation: 0, tunnels: [] }),
  close: () => undefined,
});

export type CliResult = { code: number; out: string; err: string };

/** Hosts h1, h2, h3 (agents at 10.99.0.11-13), as `host add` commands. */
export const THREE_HOSTS = [1, 2, 3].map((i) => ['host', 'add', `h${i}`, '--addr', `10.99.0.1${i}`]);

/** Runs each command in turn; the test fails at the first that does not exit 0. */
export async function cliSteps(cli: (...a: string[]) => Promise<CliResult>, steps: string[][]): Promise<void> {
  for (const a of steps) {
    const r = await cli(...a);
    assert.equal(r.code, 0, `${a.join(' ')}: ${r.err}`);
  }
}

/**
 * entry: how to start the CLI (default: from the sources through tsx, no build needed); settings:
 * more controller settings (e.g. metrics); meshLinks: agents' mesh side in memory too.
 */
export async function controllerWithCli(
  t: { after(fn: () => unknown): void },
  entry: string[] = ['--import', 'tsx', 'cli/main.ts'],
  settings: Record<string, unknown> = {},
  meshLinks?: MeshLinkFactory,
) {
  const { store, dir } = tempStore(t);
  const fleet = fakeFleet();
  const sock = `unix:${dir}/ctl.sock`;
  const cfg = controllerConfig({
    listen: sock,
    db: ':unused:',
    resyncMs: 200,
    backoffMinMs: 20,
    backoffMaxMs: 100,
    ...settings,
  });
  const ctl = await startController(cfg, silentLogger(), {
    links: fleet.links,
    store,
    ...(meshLinks ? { meshLinks } : {}),
  });
  t.after(() => ctl.stop());
  const sh = new ExecRunner();
  const cli = async (...args: string[]): Promise<CliResult> => {
    const r = await sh.run(process.execPath, [...entry, '--controller', sock, ...args], {
      allowFail: true,
      timeoutMs: 120_000,
      env: { ...process.env, HOME: dir, FLEETNET_CONTROLLER: '' },
    });
    return { code: r.code, out: r.stdout, err: r.stderr };
  };
  return { cli, fleet, dir, sock, ctl };
}
