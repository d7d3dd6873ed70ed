// `dhcp`: busybox udhcpc in a helper container that shares the target container's network
// namespace (as pipework does), made from a local image — but supervised, and removed on detach
// or when the target exits. The image is built once from Debian's busybox-static with `docker import`.
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Docker from 'dockerode';
import { FleetnetError, unsupported } from '../../common/errors.js';
import type { Runner } from '../../common/runner.js';

export const HELPER_IMAGE = 'fleetnet/busybox-dhcp:local';
export const HELPER_LABEL = 'fleetnet.dhcp-helper';
const BUSYBOX = '/bin/busybox';

export function helperName(key: string): string {
  return `fleetnet-dhcp-${createHash('sha256').update(key).digest('hex').slice(0, 12)}`;
}

/** Builds the helper image when it is missing: /bin/busybox and a symlink per applet. */
export async function ensureHelperImage(runner: Runner): Promise<void> {
  const have = await runner.run('docker', ['image', 'inspect', '--format', '{{.Id}}', HELPER_IMAGE], {
    allowFail: true,
  });
  if (have.code === 0) return;
  if (!existsSync(BUSYBOX))
    throw unsupported(
      `${BUSYBOX} is missing, so the dhcp helper image cannot be made`,
      'install the Debian package busybox-static',
    );
  const applets = (await runner.run(BUSYBOX, ['--list'])).stdout
    .split('\n')
    .filter((a) => /^[a-z0-9_.[-]+$/.test(a) && a !== 'busybox');
  const tmp = mkdtempSync(join(tmpdir(), 'fleetnet-dhcp-img-'));
  try {
    const root = join(tmp, 'root');
    for (const d of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'run', 'fleetnet'])
      mkdirSync(join(root, d), { recursive: true });
    copyFileSync(BUSYBOX, join(root, 'bin/busybox'));
    chmodSync(join(root, 'bin/busybox'), 0o755);
    for (const a of applets) symlinkSync('busybox', join(root, 'bin', a));
    await runner.run('tar', ['-C', root, '-cf', join(tmp, 'image.tar'), '.']);
    await runner.run(
      'docker',
      [
        'import',
        '--change',
        'ENV PATH=/bin',
        '--change',
        `LABEL ${HELPER_LABEL}=image`,
        join(tmp, 'image.tar'),
        HELPER_IMAGE,
      ],
      { timeoutMs: 120_000 },
    );
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export interface HelperRun {
  id: string;
  pid: number;
}

export interface HelperSpec {
  key: string;
  containerId: string;
  dir: string;
  cmd: string[];
}

/** Creates and starts the helper; a stale one left by an earlier agent (same name, our label) is replaced. */
export async function startHelper(docker: Docker, s: HelperSpec): Promise<HelperRun> {
  const name = helperName(s.key);
  await removeHelper(docker, name, false);
  let c;
  try {
    c = await docker.createContainer({
      name,
      Image: HELPER_IMAGE,
      Cmd: s.cmd,
      Labels: { [HELPER_LABEL]: '1', 'fleetnet.dhcp-key': s.key, 'fleetnet.owner': s.containerId },
      HostConfig: {
        NetworkMode: `container:${s.containerId}`,
        CapAdd: ['NET_ADMIN', 'NET_RAW'],
        Binds: [`${s.dir}:/fleetnet`],
        AutoRemove: false,
      },
    });
    await c.start();
    const info = await c.inspect();
    if (!info.State.Running || !info.State.Pid) throw new Error(`helper exited at once (exit ${info.State.ExitCode})`);
    return { id: info.Id, pid: info.State.Pid };
  } catch (err) {
    if (c) await c.remove({ force: true }).catch(() => undefined);
    throw new FleetnetError('failed', `the dhcp helper container could not start: ${(err as Error).message}`, {
      cause: err,
      hint: 'check `docker ps -a` and the agent log',
    });
  }
}

/** Stops (SIGTERM: udhcpc -R releases the lease) or kills the helper, then removes it. Absent is fine. */
export async function removeHelper(docker: Docker, idOrName: string, release: boolean): Promise<void> {
  const c = docker.getContainer(idOrName);
  let info;
  try {
    info = await c.inspect();
  } catch {
    return;
  }
  if (info.Config.Labels?.[HELPER_LABEL] !== '1')
    throw new FleetnetError('conflict', `container ${idOrName} is not a fleetnet dhcp helper; leaving it alone`);
  if (info.State.Running) {
    if (release) await c.stop({ t: 5 }).catch(() => undefined);
    else await c.kill({ signal: 'SIGKILL' }).catch(() => undefined);
  }
  await c.remove({ force: true }).catch(() => undefined);
}

/** The helper's current PID, 0 when it is not running or gone. */
export async function helperPid(docker: Docker, id: string): Promise<number> {
  try {
    const info = await docker.getContainer(id).inspect();
    return info.State.Running ? info.State.Pid : 0;
  } catch {
    return 0;
  }
}
