// Stopping one client: with a DHCPRELEASE (confirmed by the hook where the client reports it) or
// without (oneshot keeps the address), and never signalling a process that is not the client.
import type Docker from 'dockerode';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Runner } from '../../common/runner.js';
import { dhclientReleaseCommand, stopSignals } from './commands.js';
import { removeHelper } from './helper-container.js';
import { isBound, parseHookRecord } from './lease-file.js';
import { isSameProcess, signalIfSame, stopProcess } from './process.js';
import type { ClientRecord } from './types.js';

export interface StopDeps {
  runner: Runner;
  log: Logger;
  docker?: () => Docker | undefined;
}

export async function stopClient(d: StopDeps, rec: ClientRecord, dir: string, release: boolean): Promise<void> {
  const { spec, pid, pidStart } = rec;
  if (spec.client === 'dhcp') {
    const docker = d.docker?.();
    if (!docker || !rec.helperId) return;
    if (release)
      await releaseFirst(d, spec.key, dir, () => docker.getContainer(rec.helperId!).kill({ signal: 'SIGUSR2' }));
    await removeHelper(docker, rec.helperId, release).catch((err) => d.log.warn({ err }, 'helper not removed'));
    return;
  }
  if (release && spec.client === 'udhcpc')
    await releaseFirst(d, spec.key, dir, async () => void (await signalIfSame(pid, pidStart, 'SIGUSR2')));
  const sigs = stopSignals(spec.client);
  if (release && sigs.release === 'command' && (await isSameProcess(pid, pidStart))) {
    const c = dhclientReleaseCommand(spec, dir, pid);
    await d.runner.run(c.cmd, c.args, { allowFail: true, timeoutMs: 10_000 }).catch(() => undefined);
  }
  await stopProcess(
    pid,
    pidStart,
    release && sigs.release !== 'command' ? sigs.release : release ? 'SIGTERM' : sigs.keep,
  );
}

/**
 * udhcpc releases on SIGUSR2 and then runs the hook's `deconfig`: waiting for that record (bounded)
 * makes the release certain before the client, and with it maybe the namespace, goes away.
 */
async function releaseFirst(d: StopDeps, key: string, dir: string, signal: () => Promise<unknown>): Promise<void> {
  const bound = () => isBound(parseHookRecord(readFileSafe(`${dir}/lease`)));
  if (!bound()) return void d.log.info({ key }, 'no lease to release');
  try {
    await signal();
  } catch (err) {
    d.log.warn({ key, err }, 'release signal not delivered');
    return;
  }
  for (let i = 0; i < 60 && bound(); i++) await new Promise((r) => setTimeout(r, 50));
  if (bound()) d.log.warn({ key }, 'no release confirmed by the client');
  else d.log.info({ key }, 'lease released');
}

function readFileSafe(f: string): string {
  try {
    return readFileSync(f, 'utf8');
  } catch {
    return '';
  }
}
