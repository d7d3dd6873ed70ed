// A tiny local Docker image for the demo and the tests, made without a registry: busybox-static
// plus one symlink per applet, `docker import`ed as fleetnet/busybox:local. Containers run with
// --network none and labels, so they are found and removed by label afterwards.
import { mkdtempSync, mkdirSync, copyFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FleetnetError, invalid } from '../common/errors.js';
import type { Runner } from '../common/runner.js';

export const BUSYBOX_IMAGE = 'fleetnet/busybox:local';
const BUSYBOX = '/bin/busybox';
const LABEL_RE = /^[a-z0-9.\-]{1,64}=[A-Za-z0-9._\-]{1,64}$/;
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;

/** Fails with a clear message when no Docker daemon answers (nothing is started then). */
export async function checkDocker(runner: Runner): Promise<void> {
  let r;
  try {
    r = await runner.run('docker', ['info', '--format', '{{.ServerVersion}}'], { allowFail: true, timeoutMs: 15_000 });
  } catch (err) {
    throw new FleetnetError('unavailable', 'docker is not installed', {
      cause: err,
      hint: 'apt-get install docker.io',
    });
  }
  if (r.code !== 0) {
    throw new FleetnetError(
      'unavailable',
      `the Docker daemon does not answer: ${r.stderr.trim().split('\n').pop() ?? ''}`,
      {
        hint: 'start one, e.g.: dockerd --bridge=none --iptables=false &',
      },
    );
  }
}

/** Makes fleetnet/busybox:local unless it exists. */
export async function ensureBusyboxImage(runner: Runner): Promise<string> {
  const have = await runner.run('docker', ['image', 'inspect', '--format', '{{.Id}}', BUSYBOX_IMAGE], {
    allowFail: true,
  });
  if (have.code === 0) return BUSYBOX_IMAGE;
  const applets = (await runner.run(BUSYBOX, ['--list'])).stdout
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => /^[a-z0-9_.\-[]+$/.test(s));
  const dir = mkdtempSync(join(tmpdir(), 'fleetnet-busybox-'));
  try {
    const root = join(dir, 'root');
    for (const d of ['bin', 'tmp', 'etc', 'proc', 'sys', 'dev', 'root']) mkdirSync(join(root, d), { recursive: true });
    copyFileSync(BUSYBOX, join(root, 'bin', 'busybox'));
    for (const a of applets) if (a !== 'busybox') symlinkSync('busybox', join(root, 'bin', a));
    const tar = join(dir, 'image.tar');
    await runner.run('tar', ['-C', root, '-cf', tar, '.']);
    await runner.run(
      'docker',
      ['import', '--change', 'CMD ["/bin/sh"]', '--change', 'ENV PATH=/bin', tar, BUSYBOX_IMAGE],
      { timeoutMs: 120_000 },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return BUSYBOX_IMAGE;
}

export interface ContainerSpec {
  name: string;
  /** KEY=VALUE labels; at least one, so the container can be found and removed. */
  labels: string[];
  cmd?: string[];
}

/** Starts a labelled busybox container with no network of its own; returns its ID. */
export async function runBusybox(runner: Runner, spec: ContainerSpec): Promise<string> {
  if (!NAME_RE.test(spec.name)) throw invalid(`container name '${spec.name}' is not a Docker name`);
  if (!spec.labels.length) throw invalid('a test container needs a label, so it can be found and removed');
  for (const l of spec.labels) if (!LABEL_RE.test(l)) throw invalid(`label '${l}' is not KEY=VALUE`);
  const args = [
    'run',
    '-d',
    '--network',
    'none',
    '--name',
    spec.name,
    ...spec.labels.flatMap((l) => ['--label', l]),
    BUSYBOX_IMAGE,
    ...(spec.cmd ?? ['sleep', '86400']),
  ];
  return (await runner.run('docker', args, { timeoutMs: 60_000 })).stdout.trim();
}

export async function removeContainers(runner: Runner, ids: readonly string[]): Promise<void> {
  if (ids.length) await runner.run('docker', ['rm', '-f', '-v', ...ids], { allowFail: true, timeoutMs: 60_000 });
}
