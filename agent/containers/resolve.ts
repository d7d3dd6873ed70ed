// Resolves a target (Docker name/ID, LXC name, PID, named netns, netns path) to its namespace.
import { existsSync, readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type Docker from 'dockerode';
import type { TargetRef } from '../../common/attach-args.js';
import { FleetnetError, invalid, notFound } from '../../common/errors.js';
import type { Runner } from '../../common/runner.js';
import type { DockerIndex } from './docker-index.js';
import { DEFAULT_LXC_PATH, lxcPidFromCgroups } from './lxc.js';
import type { ContainerInfo } from './types.js';

export interface ResolverDeps {
  runner: Runner;
  /** Running containers from Docker's events; consulted first, always re-checked. */
  dockerIndex?: () => DockerIndex | undefined;
  /** Lazily made Docker client; undefined when Docker is not used on this host. */
  docker: () => Docker | undefined;
  netnsDir: string; // /run/netns
}

export async function nsKeyOf(path: string): Promise<string> {
  const s = await stat(path);
  return `${s.dev}:${s.ino}`;
}

/** Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat). */
export async function processStartTime(pid: number): Promise<string | undefined> {
  try {
    const s = await readFile(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

export class ContainerResolver {
  /** Docker name → container, re-checked against the live process on every use. */
  private dockerCache = new Map<string, { info: ContainerInfo; start: string }>();

  constructor(private readonly deps: ResolverDeps) {}

  async resolve(t: TargetRef): Promise<ContainerInfo> {
    switch (t.kind) {
      case 'pid':
        return this.byPid(Number(t.value));
      case 'netns':
        return this.byNetns(t.value);
      case 'path':
        return this.byPath(t.value);
      case 'docker':
        return this.byDocker(t.value);
      case 'lxc':
        return this.byLxc(t.value);
      case 'auto':
        return this.byAuto(t.value);
    }
  }

  async byPid(
    pid: number,
    runtime: ContainerInfo['runtime'] = 'pid',
    id = String(pid),
    name = String(pid),
  ): Promise<ContainerInfo> {
    const netns = `/proc/${pid}/ns/net`;
    let nsKey: string;
    try {
      nsKey = await nsKeyOf(netns);
    } catch {
      throw notFound(`process ${pid} does not exist`, 'check the PID, or name the container instead');
    }
    return { runtime, id, name, pid, netns, nsKey };
  }

  async byNetns(name: string): Promise<ContainerInfo> {
    const netns = `${this.deps.netnsDir}/${name}`;
    if (!existsSync(netns))
      throw notFound(`network namespace '${name}' does not exist`, `'ip netns list' shows the named ones`);
    return { runtime: 'netns', id: name, name, pid: 0, netns, nsKey: await nsKeyOf(netns) };
  }

  async byPath(path: string): Promise<ContainerInfo> {
    let s;
    try {
      s = await stat(path);
    } catch {
      throw notFound(`network namespace path ${path} does not exist`);
    }
    if (s.isDirectory())
      throw invalid(
        `${path} is a directory, not a network namespace`,
        'give a file like /proc/PID/ns/net or /run/netns/NAME',
      );
    return { runtime: 'netns', id: path, name: path, pid: 0, netns: path, nsKey: `${s.dev}:${s.ino}` };
  }

  private docker(): Docker {
    const d = this.deps.docker();
    if (!d) throw new FleetnetError('unavailable', 'Docker is not available on this host');
    return d;
  }

  async byDocker(ref: string): Promise<ContainerInfo> {
    const cached = this.dockerCache.get(ref);
    if (cached && (await processStartTime(cached.info.pid)) === cached.start) {
      try {
        if ((await nsKeyOf(cached.info.netns)) === cached.info.nsKey) return cached.info;
      } catch {
        /* gone: ask Docker again */
      }
    }
    this.dockerCache.delete(ref);
    const known = this.deps.dockerIndex?.()?.lookup(ref);
    if (known) {
      const start = await processStartTime(known.pid);
      if (start) {
        const info = await this.byPid(known.pid, 'docker', known.id, known.name).catch(() => undefined);
        if (info) {
          this.dockerCache.set(ref, { info, start });
          return info;
        }
      }
    }
    let c;
    try {
      c = await this.docker().getContainer(ref).inspect();
    } catch (err) {
      const e = err as { statusCode?: number; message?: string; code?: string };
      if (e.statusCode === 404) {
        const multiple = /multiple IDs found/i.test(e.message ?? '');
        if (multiple)
          throw new FleetnetError('ambiguous', `Docker ID prefix '${ref}' matches more than one container`, {
            hint: 'give more characters of the ID, or the name',
          });
        throw notFound(`Docker container '${ref}' does not exist`, `'docker ps' lists the running ones`);
      }
      if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED')
        throw new FleetnetError('unavailable', 'the Docker daemon does not answer', { cause: err });
      throw new FleetnetError('failed', `Docker could not inspect '${ref}': ${e.message ?? String(err)}`, {
        cause: err,
      });
    }
    if (!c.State.Running || !c.State.Pid) {
      throw new FleetnetError('failed', `Docker container '${ref}' is not running`, {
        hint: `start it first: docker start ${ref}`,
      });
    }
    let info: ContainerInfo;
    try {
      info = await this.byPid(c.State.Pid, 'docker', c.Id, c.Name.replace(/^\//, ''));
    } catch (err) {
      // Docker answered "running" just before the process exited (a restart under way): the container
      // exists, so this is "not running", never "gone" (the lifecycle releases what is gone).
      if (!(err instanceof FleetnetError && err.kind === 'not_found')) throw err;
      throw new FleetnetError('failed', `Docker container '${ref}' is not running (its process just exited)`, {
        hint: `start it first: docker start ${ref}`,
        cause: err,
      });
    }
    const start = await processStartTime(info.pid);
    if (start) this.dockerCache.set(ref, { info, start });
    return info;
  }

  async byLxc(name: string): Promise<ContainerInfo> {
    // lxc-info asks the container's monitor (an abstract socket, so only from the monitor's network
    // namespace); the container's cgroup (what pipework read) answers when it cannot.
    const fromCgroups = () =>
      lxcPidFromCgroups(name, readFileSync('/proc/self/mountinfo', 'utf8'), (f) =>
        existsSync(f) ? readFileSync(f, 'utf8') : undefined,
      );
    let r;
    try {
      r = await this.deps.runner.run('lxc-info', ['-n', name, '-pH'], { allowFail: true, timeoutMs: 10_000 });
    } catch (err) {
      if (!(err instanceof FleetnetError && err.kind === 'unsupported')) throw err;
      const pid = fromCgroups();
      if (!pid && (await this.hasLxc(name))) {
        const hint = `start it: lxc-start -n ${name}`;
        throw new FleetnetError('failed', `LXC container '${name}' is not running`, { hint });
      }
      if (!pid)
        throw notFound(
          `LXC container '${name}' is not running (no cgroup holds it, and lxc-info is not installed)`,
          'start it, or install lxc',
        );
      return this.byPid(pid, 'lxc', name, name);
    }
    const pid = Number(r.stdout.trim());
    if (r.code !== 0 || !Number.isInteger(pid) || pid <= 0) {
      const byCgroup = fromCgroups();
      if (byCgroup) return this.byPid(byCgroup, 'lxc', name, name);
      if (/doesn't exist|does not exist/.test(r.stderr)) throw notFound(`LXC container '${name}' does not exist`);
      throw new FleetnetError('failed', `LXC container '${name}' is not running`, {
        hint: `start it: lxc-start -n ${name}`,
      });
    }
    return this.byPid(pid, 'lxc', name, name);
  }

  private async hasLxc(name: string): Promise<boolean> {
    return existsSync(`${DEFAULT_LXC_PATH}/${name}/config`);
  }

  async byAuto(name: string): Promise<ContainerInfo> {
    const found: string[] = [];
    let dockerHit: ContainerInfo | undefined;
    let dockerErr: unknown;
    if (this.deps.docker()) {
      try {
        dockerHit = await this.byDocker(name);
        found.push(`docker:${name}`);
      } catch (err) {
        if (!(err instanceof FleetnetError && (err.kind === 'not_found' || err.kind === 'unavailable')))
          dockerErr = err;
      }
    }
    const nsHit = existsSync(`${this.deps.netnsDir}/${name}`);
    if (nsHit) found.push(`netns:${name}`);
    const lxcHit = await this.hasLxc(name);
    if (lxcHit) found.push(`lxc:${name}`);
    if (found.length > 1 || (dockerErr && found.length > 0)) {
      if (dockerErr && !found.includes(`docker:${name}`)) found.unshift(`docker:${name}`);
      throw new FleetnetError('ambiguous', `'${name}' names more than one thing: ${found.join(', ')}`, {
        hint: `say which: ${found.join(' or ')}`,
      });
    }
    if (dockerErr) throw dockerErr;
    if (dockerHit) return dockerHit;
    if (nsHit) return this.byNetns(name);
    if (lxcHit) return this.byLxc(name);
    throw notFound(
      `no container, network namespace or LXC container is named '${name}'`,
      `'docker ps' and 'ip netns list' show what exists`,
    );
  }
}
