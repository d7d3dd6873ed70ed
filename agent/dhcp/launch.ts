// How one DHCP client gets going (the supervisor decides when): the checks that refuse a start before
// anything is made, the client's own state directory, and the process itself: a host client in the
// container's namespace, detached so that it outlives the agent, or the busybox helper container.
import type { ChildProcess } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  fstatSync,
  mkdirSync,
  openSync,
  readSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import type Docker from 'dockerode';
import { FleetnetError } from '../../common/errors.js';
import type { Runner } from '../../common/runner.js';
import { clientConfig, helperCommand, hostClientCommand, missingClient } from './commands.js';
import { ensureHelperImage, startHelper } from './helper-container.js';
import { parseClientOptions } from './options.js';
import { processStartTime } from './process.js';
import { findProgram } from './scripts.js';
import type { ClientRecord, DhcpStartSpec } from './types.js';

export interface LaunchDeps {
  runner: Runner;
  docker?: () => Docker | undefined;
}

/** Refuses a client this host cannot run, naming the fix; returns the client's own options. */
export async function checkClient(d: LaunchDeps, spec: DhcpStartSpec): Promise<string[]> {
  const extra = parseClientOptions(spec.client, spec.options);
  if (spec.client !== 'dhcp' && !findProgram(spec.client)) throw missingClient(spec.client);
  if (spec.client === 'dhcp') {
    if (!spec.owner.containerId)
      throw new FleetnetError(
        'invalid',
        "'dhcp' runs udhcpc in a helper container next to a Docker container; this target is not one",
        { hint: 'use udhcpc, dhclient or dhcpcd for namespaces and PIDs' },
      );
    if (!d.docker?.())
      throw new FleetnetError('unavailable', "'dhcp' needs Docker, which does not answer on this host", {
        hint: 'use udhcpc, dhclient or dhcpcd',
      });
    await ensureHelperImage(d.runner);
  }
  return extra;
}

/** A fresh state directory: the client kind, fleetnet's hook and the client's configuration file. */
export function prepareClientDir(dir: string, spec: DhcpStartSpec, hook: string): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(`${dir}/kind`, `${spec.client}\n`);
  copyFileSync(hook, `${dir}/hook`);
  chmodSync(`${dir}/hook`, 0o755);
  const conf = clientConfig(spec);
  if (conf) writeFileSync(`${dir}/${conf.name}`, conf.text);
}

/**
 * A start that got no lease in time (the client is stopped again, and its folder goes with the attach): what to
 * check, and the last lines the client wrote (`said`, read before the stop).
 */
export function noLeaseError(spec: DhcpStartSpec, timeoutMs: number, said: string[]): FleetnetError {
  const log = said.length ? `; the client's last words:\n    ${said.join('\n    ')}` : '';
  return new FleetnetError(
    'failed',
    `${spec.client} got no DHCP lease on ${spec.ifname} within ${Math.round(timeoutMs / 1000)} s`,
    { hint: `check that a DHCP server answers on the host interface${log}` },
  );
}

/** The last `n` lines of a client's log in `dir` (at most its last 4 KiB are read); none when there is no log. */
export function clientLogTail(dir: string, n = 5): string[] {
  let fd: number | undefined;
  try {
    fd = openSync(`${dir}/client.log`, 'r');
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(Math.min(size, 4096));
    readSync(fd, buf, 0, buf.length, size - buf.length);
    const lines = buf
      .toString('utf8')
      .split('\n')
      .map((l) => l.trimEnd())
      .filter(Boolean);
    return lines.slice(-n);
  } catch {
    return [];
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export interface Launched {
  pid: number;
  pidStart: string;
  helperId?: string;
}

/**
 * Starts the client of rec in dir. `watch` gets a host client's process at once, before anything is
 * awaited, so that an exit straight after the start is not missed.
 */
export async function launchClient(
  d: LaunchDeps,
  l: { rec: ClientRecord; dir: string; opts: string[]; privateNs: string; watch: (child: ChildProcess) => void },
): Promise<Launched> {
  const { spec } = l.rec;
  if (spec.client === 'dhcp') {
    const docker = d.docker?.();
    if (!docker) throw new FleetnetError('unavailable', 'Docker does not answer; the dhcp helper cannot start');
    const h = await startHelper(docker, {
      key: spec.key,
      containerId: spec.owner.containerId!,
      dir: l.dir,
      cmd: helperCommand(spec, l.opts, l.rec.lastAddress),
    });
    return { pid: h.pid, pidStart: (await processStartTime(h.pid)) ?? '', helperId: h.id };
  }
  const cmd = hostClientCommand(spec, { dir: l.dir, privateNs: l.privateNs }, l.opts, l.rec.lastAddress);
  const logFd = openSync(`${l.dir}/client.log`, 'a', 0o600);
  let child: ChildProcess;
  try {
    // Detached, output to a file: the client must survive the agent (it is adopted after a restart).
    child = d.runner.start(cmd.cmd, cmd.args, { stdio: logFd, detached: true });
  } finally {
    closeSync(logFd);
  }
  if (!child.pid) throw new FleetnetError('failed', `${spec.client} could not be started`);
  l.watch(child);
  child.unref();
  return { pid: child.pid, pidStart: (await processStartTime(child.pid)) ?? '' };
}
