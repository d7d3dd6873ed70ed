// Docker fixtures for tests: a local busybox image (no registry here) and labelled containers
// with no network of their own, removed after the test.
import { mkdtempSync, rmSync, symlinkSync, copyFileSync, mkdirSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExecRunner, type Runner } from '../../common/runner.js';

export const TEST_IMAGE = 'fleetnet/busybox:local';
const APPLETS = ['sh', 'ping', 'ping6', 'ip', 'ifconfig', 'udhcpc', 'sleep', 'cat', 'ls', 'arping', 'ps', 'kill', 'grep', 'sed', 'cut', 'head', 'tail', 'wc', 'date', 'test', 'true', 'false', 'echo', 'tr', 'awk', 'printf', 'nc', 'route', 'mkdir', 'rm', 'mv', 'env', 'id'];

/** Makes the local image from Debian's busybox-static once; later calls find it. */
export async function ensureTestImage(runner: Runner = new ExecRunner()): Promise<string> {
  const have = await runner.run('docker', ['image', 'inspect', TEST_IMAGE], { allowFail: true });
  if (have.code === 0) return TEST_IMAGE;
  const dir = mkdtempSync(join(tmpdir(), 'fleetnet-img-'));
  try {
    const root = join(dir, 'root');
    for (const d of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'run', 'var/run']) mkdirSync(join(root, d), { recursive: true });
    copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
    chmodSync(join(root, 'bin/busybox'), 0o755);
    for (const a of APPLETS) symlinkSync('busybox', join(root, 'bin', a));
    await runner.run('tar', ['-C', root, '-cf', join(dir, 'img.tar'), '.']);
    await runner.run('docker', ['import', '--change', 'CMD ["/bin/sh"]', '--change', 'ENV PATH=/bin', join(dir, 'img.tar'), TEST_IMAGE]);
    return TEST_IMAGE;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface TestContainer {
  name: string;
  id: string;
  pid: number;
}

/** Starts a container with no network (`--network none`) carrying the run's label. */
export async function startContainer(name: string, label: string, runner: Runner = new ExecRunner()): Promise<TestContainer> {
  await ensureTestImage(runner);
  const r = await runner.run('docker', ['run', '-d', '--network', 'none', '--name', name, '--label', `fleetnet.test=${label}`, TEST_IMAGE, 'sleep', '3600']);
  const id = r.stdout.trim();
  const p = await runner.run('docker', ['inspect', '-f', '{{.State.Pid}}', id]);
  return { name, id, pid: Number(p.stdout.trim()) };
}

/** Removes every container carrying the run's label. */
export async function removeContainers(label: string, runner: Runner = new ExecRunner()): Promise<void> {
  const r = await runner.run('docker', ['ps', '-aq', '--filter', `label=fleetnet.test=${label}`], { allowFail: true });
  const ids = r.stdout.split('\n').filter(Boolean);
  if (ids.length) await runner.run('docker', ['rm', '-f', ...ids], { allowFail: true });
}

export async function dockerAvailable(runner: Runner = new ExecRunner()): Promise<boolean> {
  return (await runner.run('docker', ['info'], { allowFail: true, timeoutMs: 10_000 })).code === 0;
}
