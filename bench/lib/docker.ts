// Docker for the bench: the local busybox image, labelled --network none containers, and a second
// dockerd that lives entirely inside the bench namespace (its bridges never reach the machine's own).
import { copyFileSync, existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchEnv } from './env.js';
import { startDaemon, stopProcess, unmountUnder, userProcessEnv, waitReady } from './env.js';
import { mapLimit } from './stats.js';

export const IMAGE = 'fleetnet/busybox:local';

export interface Docker {
  /** argv prefix for the docker CLI (with -H for the second daemon). */
  argv: string[];
  label: string;
}

export interface BenchContainer {
  name: string;
  id: string;
  pid: number;
  netnsPath: string;
}

export function dockerCli(env: BenchEnv, host?: string): Docker {
  return { argv: host ? ['-H', host] : [], label: `fleetnet.bench=${env.runId}` };
}

export async function docker(
  env: BenchEnv,
  d: Docker,
  args: string[],
  opts: { timeoutMs?: number; allowFail?: boolean } = {},
) {
  return env.runner.run('docker', [...d.argv, ...args], {
    timeoutMs: opts.timeoutMs ?? 60_000,
    allowFail: opts.allowFail ?? false,
    env: userProcessEnv(),
  });
}

/** A tar holding /bin/busybox and a few applet links, imported as IMAGE when the daemon lacks it. */
export async function ensureImage(env: BenchEnv, d: Docker): Promise<void> {
  const has = await docker(env, d, ['image', 'inspect', '--format', '{{.Id}}', IMAGE], { allowFail: true });
  if (has.code === 0) return;
  const tar = join(env.tmp, 'busybox-image.tar');
  if (!existsSync(tar)) {
    const root = join(env.tmp, 'busybox-root');
    mkdirSync(join(root, 'bin'), { recursive: true });
    copyFileSync('/bin/busybox', join(root, 'bin', 'busybox'));
    for (const a of ['sh', 'sleep', 'ip', 'ls', 'cat']) symlinkSync('busybox', join(root, 'bin', a));
    await env.runner.run('tar', ['-C', root, '-cf', tar, '.']);
  }
  await docker(env, d, ['import', '--change', 'CMD ["/bin/sleep","86400"]', tar, IMAGE], { timeoutMs: 120_000 });
}

/** Starts `count` labelled containers and registers their removal. */
export async function startContainers(
  env: BenchEnv,
  d: Docker,
  prefix: string,
  count: number,
  network: string,
): Promise<BenchContainer[]> {
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
  const ids: string[] = [];
  env.onCleanup(`remove containers ${prefix}-*`, async () => {
    const byLabel = await docker(env, d, ['ps', '-aq', '--filter', `label=${d.label}`], { allowFail: true });
    const all = [...new Set([...ids, ...byLabel.stdout.split(/\s+/).filter(Boolean)])];
    for (let i = 0; i < all.length; i += 50)
      await docker(env, d, ['rm', '-f', ...all.slice(i, i + 50)], { allowFail: true, timeoutMs: 120_000 });
  });
  await mapLimit(names, 6, async (name) => {
    const r = await docker(env, d, [
      'run',
      '-d',
      '--network',
      network,
      '--label',
      d.label,
      '--name',
      name,
      IMAGE,
      '/bin/sleep',
      '86400',
    ]);
    ids.push(r.stdout.trim());
  });
  const out: BenchContainer[] = [];
  for (let i = 0; i < names.length; i += 50) {
    const r = await docker(env, d, [
      'inspect',
      '--format',
      '{{.Name}} {{.Id}} {{.State.Pid}}',
      ...names.slice(i, i + 50),
    ]);
    for (const l of r.stdout.trim().split('\n')) {
      const [n, id, pid] = l.trim().split(' ');
      if (!n || !id || !Number(pid)) throw new Error(`docker inspect gave an unexpected line: ${l}`);
      out.push({ name: n.replace(/^\//, ''), id, pid: Number(pid), netnsPath: `/proc/${pid}/ns/net` });
    }
  }
  return out;
}

/**
 * A second dockerd inside the bench netns, with its own data, exec root, pid file and socket. It
 * first runs its own managed containerd (under the exec root); when that fails (or privateContainerd
 * asks for it) a private containerd with its own root, state and address runs beside it instead.
 * Both are stopped and their folders removed at cleanup.
 */
export async function startSecondDockerd(env: BenchEnv, opts: { privateContainerd?: boolean } = {}): Promise<Docker> {
  const dir = join(env.tmp, 'dockerd');
  mkdirSync(dir, { recursive: true });
  const sock = `unix://${dir}/docker.sock`;
  const args = [
    `--net=${env.netnsPath}`,
    'dockerd',
    '--data-root',
    join(dir, 'data'),
    '--exec-root',
    join(dir, 'exec'),
    '--pidfile',
    join(dir, 'dockerd.pid'),
    '-H',
    sock,
    '--bridge=none',
    '--iptables=false',
    '--ip6tables=false',
    '--ip-masq=false',
    '--log-level=warn',
  ];
  // Cleanup runs newest first: the managed containerd check and unmounts come after dockerd stopped.
  env.onCleanup('second dockerd leftovers', async () => {
    const cpid = readPid(join(dir, 'exec', 'containerd', 'containerd.pid'));
    if (cpid && isOurContainerd(cpid, dir)) await stopProcess(cpid, 5_000); // only after a SIGKILL of dockerd
    await unmountUnder(env.runner, dir);
  });
  const d = dockerCli(env, sock);
  const answers = async () =>
    (await docker(env, d, ['version', '--format', '{{.Server.Version}}'], { allowFail: true, timeoutMs: 5_000 }))
      .code === 0;
  if (!opts.privateContainerd) {
    const daemon = startDaemon(env, 'second dockerd', 'nsenter', args, join(dir, 'dockerd.log'), 20_000);
    try {
      await waitReady("the bench's second dockerd", daemon, 60_000, answers);
      return d;
    } catch (err) {
      if (!/containerd/i.test(daemon.logTail(30))) throw err;
      env.log.warn(
        { log: daemon.logTail(3) },
        'the second dockerd could not run its own containerd; starting a private one',
      );
      await stopProcess(daemon.pid, 10_000);
    }
  }
  const ctd = join(dir, 'containerd');
  mkdirSync(ctd, { recursive: true });
  const ctdSock = join(ctd, 'containerd.sock');
  const c = startDaemon(
    env,
    'private containerd',
    'nsenter',
    [
      `--net=${env.netnsPath}`,
      'containerd',
      '--root',
      join(ctd, 'root'),
      '--state',
      join(ctd, 'state'),
      '--address',
      ctdSock,
      '--log-level',
      'warn',
    ],
    join(ctd, 'containerd.log'),
    10_000,
  );
  await waitReady("the bench's private containerd", c, 30_000, async () => existsSync(ctdSock));
  const daemon = startDaemon(
    env,
    'second dockerd',
    'nsenter',
    [...args, '--containerd', ctdSock],
    join(dir, 'dockerd-private.log'),
    20_000,
  );
  await waitReady("the bench's second dockerd (private containerd)", daemon, 60_000, answers);
  return d;
}

function readPid(file: string): number | undefined {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 1 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** Only a containerd whose command line names our own folder is ours to stop. */
function isOurContainerd(pid: number, dir: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir);
  } catch {
    return false;
  }
}

/** What `docker network connect` is timed against: the second dockerd, its bench network and containers. */
export interface DockerConnectTarget {
  d2: Docker;
  /** The network the containers are connected to (`bench<run id>`), and its Linux bridge. */
  network: string;
  bridge: string;
  containers: BenchContainer[];
}

/**
 * The second dockerd (startSecondDockerd), a network `park<run id>` (10.PARK.0.0/16) its n containers
 * (named PREFIX<run id>-i) start on, and the network `bench<run id>` (10.NET.0.0/16) they are timed
 * connecting to.
 */
export async function dockerConnectTarget(
  env: BenchEnv,
  o: { n: number; prefix: string; net: number; park: number; privateContainerd?: boolean },
): Promise<DockerConnectTarget> {
  const d2 = await startSecondDockerd(env, { privateContainerd: o.privateContainerd });
  await ensureImage(env, d2);
  const create = (net: number, name: string) =>
    docker(env, d2, [
      'network',
      'create',
      '--driver',
      'bridge',
      '--subnet',
      `10.${net}.0.0/16`,
      '--label',
      d2.label,
      name,
    ]);
  await create(o.park, `park${env.runId}`);
  const netId = (await create(o.net, `bench${env.runId}`)).stdout.trim();
  const containers = await startContainers(env, d2, `${o.prefix}${env.runId}`, o.n, `park${env.runId}`);
  return { d2, network: `bench${env.runId}`, bridge: `br-${netId.slice(0, 12)}`, containers };
}
