// The agent's one-file bundle (dist/fleetnet-agent.mjs, what `host add --ssh` uploads) run from a
// folder with no node_modules beside it, as on a fleet host: it starts, and its socket answers
// grpc.health.v1 (the health package's proto is built into the bundle, scripts/build.mjs). With a Docker socket
// too: the agent loads the inlined dockerode only then (agent/containers/dockerode-load.ts), and a load that
// looked for node_modules would stop it from starting.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ensureBuilt } from '../helpers/build.js';
import { dockerUnavailable } from '../helpers/docker.js';
import { healthCheck } from '../helpers/grpc-health.js';

const dockerWhy = await dockerUnavailable();

for (const docker of [false, true])
  test(
    `the agent bundle, alone in a folder, serves grpc.health.v1 on its socket (${docker ? 'with' : 'no'} Docker)`,
    { skip: docker && dockerWhy ? `Docker: ${dockerWhy}` : false },
    async (t) => {
      await bundleServes(t, docker ? '/var/run/docker.sock' : undefined);
    },
  );

async function bundleServes(t: { after(fn: () => Promise<void>): void }, dockerSocket?: string): Promise<void> {
  await ensureBuilt();
  const dir = mkdtempSync(join(tmpdir(), 'fleetnet-bundle-'));
  mkdirSync(join(dir, 'dist'));
  copyFileSync(join(process.cwd(), 'dist', 'fleetnet-agent.mjs'), join(dir, 'dist', 'fleetnet-agent.mjs'));
  const sock = join(dir, 'agent.sock');
  const child = spawn(
    process.execPath,
    [
      join(dir, 'dist', 'fleetnet-agent.mjs'),
      'agent',
      'run',
      '--socket',
      sock,
      '--state-dir',
      join(dir, 'state'),
      '--docker-socket',
      dockerSocket ?? join(dir, 'no-docker.sock'),
      '--ip-path',
      'exec',
    ],
    { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  t.after(async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  });
  for (let i = 0; i < 300 && !existsSync(sock) && child.exitCode === null; i++)
    await new Promise((r) => setTimeout(r, 100));
  assert.ok(existsSync(sock), `the bundle's agent made its socket (stderr: ${stderr})`);
  assert.equal(await healthCheck(`unix:${sock}`, 'fleetnet.v1.Agent'), 'SERVING');
}
