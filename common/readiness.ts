// Readiness for systemd (Type=notify): once a daemon serves, `systemd-notify --ready` tells the
// service manager, through the Runner like every external command. --pid names the daemon as the
// sender, so the message counts even though systemd-notify itself exits at once (NotifyAccess=all
// in the units). Outside systemd (no NOTIFY_SOCKET) nothing runs.
import type { Logger } from 'pino';
import { ExecRunner, type Runner } from './runner.js';

export async function notifyReady(
  log: Logger,
  status: string,
  env: NodeJS.ProcessEnv = process.env,
  runner: Runner = new ExecRunner(),
): Promise<boolean> {
  if (!env.NOTIFY_SOCKET) return false;
  const r = await runner.run('systemd-notify', ['--ready', `--pid=${process.pid}`, `--status=${status}`], {
    allowFail: true,
    timeoutMs: 5_000,
  });
  if (r.code !== 0)
    log.warn(
      { code: r.code, stderr: r.stderr.trim() },
      'systemd-notify --ready failed: systemd will time the start out',
    );
  return r.code === 0;
}
