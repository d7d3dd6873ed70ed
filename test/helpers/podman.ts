// Podman (Debian's 4.3, CNI backend) for one lab host, entirely in temporary folders: its own
// containers.conf (CONTAINERS_CONF), storage root and run root, CNI configuration folder and an
// image imported from a local busybox root filesystem (no registry). The machine's own podman
// configuration and storage are never read or written. Commands run in the host's network
// namespace through nsenter (not `ip netns exec`, whose private /sys hides the cgroup mounts runc needs).
import { mkdirSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExecRunner, type RunResult } from '../../common/runner.js';

const sh = new ExecRunner();
export const PODMAN_IMAGE = 'localhost/fleetnet-busybox:test';
const APPLETS = ['sh', 'ip', 'ping', 'sleep', 'cat', 'ls'];

export interface PodmanHostOptions {
  dir: string;
  /** The host's network namespace name (/run/netns/NAME). */
  netns: string;
  /** Where the CNI plugins are (fleetnet's first, then the reference ones). */
  pluginDirs: string[];
  /** The agent's socket, for the plugin (FLEETNET_AGENT_SOCKET in podman's environment reaches it). */
  agentSocket: string;
}

export class PodmanHost {
  private constructor(
    readonly o: PodmanHostOptions,
    readonly confDir: string,
  ) {}

  static async create(o: PodmanHostOptions): Promise<PodmanHost> {
    const confDir = join(o.dir, 'net.d');
    for (const d of ['root', 'run', 'tmp', 'rootfs/bin', 'net.d']) mkdirSync(join(o.dir, d), { recursive: true });
    // Lower limits than the machine's: raising them (podman's default for root) needs CAP_SYS_RESOURCE.
    writeFileSync(
      join(o.dir, 'containers.conf'),
      [
        '[containers]',
        'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]',
        '[network]',
        'network_backend = "cni"',
        `cni_plugin_dirs = ${JSON.stringify(o.pluginDirs)}`,
        `network_config_dir = ${JSON.stringify(confDir)}`,
        '[engine]',
        'cgroup_manager = "cgroupfs"',
        'events_logger = "file"',
        `events_logfile_path = ${JSON.stringify(join(o.dir, 'events.log'))}`,
        '',
      ].join('\n'),
    );
    const h = new PodmanHost(o, confDir);
    const rootfs = join(o.dir, 'rootfs');
    copyFileSync('/bin/busybox', join(rootfs, 'bin/busybox'));
    for (const a of APPLETS) symlinkSync('busybox', join(rootfs, 'bin', a));
    await sh.run('tar', ['-C', rootfs, '-cf', join(o.dir, 'rootfs.tar'), '.']);
    const imp = await h.podman('import', join(o.dir, 'rootfs.tar'), PODMAN_IMAGE);
    if (imp.code !== 0) throw new Error(`podman import: ${imp.stderr}`);
    return h;
  }

  /** A network configuration list in this podman's CNI folder. */
  writeNetwork(name: string, conflist: object): void {
    writeFileSync(join(this.confDir, `${name}.conflist`), `${JSON.stringify(conflist, null, 2)}\n`);
  }

  /** `podman ARGS` with the temporary configuration, in the host's network namespace; never throws on exit codes. */
  podman(...args: string[]): Promise<RunResult> {
    const d = this.o.dir;
    return sh.run(
      'nsenter',
      [
        `--net=/run/netns/${this.o.netns}`,
        'podman',
        '--root',
        join(d, 'root'),
        '--runroot',
        join(d, 'run'),
        '--tmpdir',
        join(d, 'tmp'),
        '--cni-config-dir',
        this.confDir,
        '--storage-driver',
        'vfs',
        ...args,
      ],
      {
        allowFail: true,
        timeoutMs: 120_000,
        env: { ...process.env, CONTAINERS_CONF: join(d, 'containers.conf'), FLEETNET_AGENT_SOCKET: this.o.agentSocket },
      },
    );
  }

  /** The IPv4 address (CIDR) of an interface inside a running container. */
  async addressOf(container: string, ifname = 'eth0'): Promise<string> {
    const r = await this.podman('exec', container, 'ip', '-4', '-o', 'addr', 'show', 'dev', ifname);
    return /inet (\S+)/.exec(r.stdout)?.[1] ?? '';
  }

  /** Every container of this podman removed (CNI DEL for each), then its storage left to the caller's rm. */
  async removeAll(): Promise<void> {
    await this.podman('rm', '--all', '--force', '--time', '0');
  }
}
