// A small supervisor for hosts without systemd: runs `agent run` as a child, restarts it with
// backoff when it dies, appends its output to a log, and stops it on SIGTERM/SIGINT.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface SuperviseOptions {
  pidFile: string;
  log: string;
  /** Arguments after the bundle path, e.g. ['agent', 'run', ...]. */
  args: string[];
  maxBackoffMs?: number;
}

export async function supervise(o: SuperviseOptions): Promise<void> {
  mkdirSync(dirname(o.pidFile), { recursive: true });
  mkdirSync(dirname(o.log), { recursive: true });
  writeFileSync(o.pidFile, `${process.pid}\n`);
  const out = openSync(o.log, 'a', 0o600);
  let child: ChildProcess | undefined;
  let stopping = false;
  let backoffMs = 500;
  const stop = () => {
    stopping = true;
    child?.kill('SIGTERM');
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  while (!stopping) {
    const startedAt = Date.now();
    child = spawn(process.execPath, [process.argv[1] as string, ...o.args], { stdio: ['ignore', out, out] });
    const code = await new Promise<number | string>((resolve) => child!.once('exit', (c, sig) => resolve(c ?? sig ?? 'unknown')));
    if (stopping) break;
    if (Date.now() - startedAt > 30_000) backoffMs = 500; // it ran a while: start over gently
    writeFileSync(out, `fleetnet supervise: agent exited (${code}); restarting in ${backoffMs} ms\n`);
    await new Promise((r) => setTimeout(r, backoffMs));
    backoffMs = Math.min(backoffMs * 2, o.maxBackoffMs ?? 30_000);
  }
  rmSync(o.pidFile, { force: true });
}
