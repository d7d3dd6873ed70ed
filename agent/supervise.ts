// A small supervisor for hosts without systemd: runs `agent run` as a child, restarts it with
// backoff when it dies, writes its output to a size-rotated log (agent/rotating-log.ts; SIGHUP
// reopens it for an outside logrotate), and stops it on SIGTERM/SIGINT.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { RotatingLog } from './rotating-log.js';

export interface SuperviseOptions {
  pidFile: string;
  log: string;
  /** Arguments after the bundle path, e.g. ['agent', 'run', ...]. */
  args: string[];
  maxBackoffMs?: number;
  /** Log rotation: size of the live file and how many rotated ones stay. */
  logMaxBytes?: number;
  logKeep?: number;
}

export async function supervise(o: SuperviseOptions): Promise<void> {
  mkdirSync(dirname(o.pidFile), { recursive: true });
  mkdirSync(dirname(o.log), { recursive: true });
  writeFileSync(o.pidFile, `${process.pid}\n`);
  const out = new RotatingLog({
    path: o.log,
    ...(o.logMaxBytes ? { maxBytes: o.logMaxBytes } : {}),
    ...(o.logKeep !== undefined ? { keep: o.logKeep } : {}),
  });
  let child: ChildProcess | undefined;
  let stopping = false;
  let backoffMs = 500;
  const stop = () => {
    stopping = true;
    child?.kill('SIGTERM');
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.on('SIGHUP', () => out.reopen());
  while (!stopping) {
    const startedAt = Date.now();
    child = spawn(process.execPath, [process.argv[1] as string, ...o.args], { stdio: ['ignore', 'pipe', 'pipe'] });
    // Lines from both streams land whole (pino writes one line per write) in one rotated file.
    child.stdout!.on('data', (b: Buffer) => out.write(b));
    child.stderr!.on('data', (b: Buffer) => out.write(b));
    const code = await new Promise<number | string>((resolve) =>
      child!.once('close', (c, sig) => resolve(c ?? sig ?? 'unknown')),
    );
    if (stopping) break;
    if (Date.now() - startedAt > 30_000) backoffMs = 500; // it ran a while: start over gently
    out.write(`fleetnet supervise: agent exited (${code}); restarting in ${backoffMs} ms\n`);
    await new Promise((r) => setTimeout(r, backoffMs));
    backoffMs = Math.min(backoffMs * 2, o.maxBackoffMs ?? 30_000);
  }
  out.close();
  rmSync(o.pidFile, { force: true });
}
