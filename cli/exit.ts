// How a one-shot command (attach, detach, ls, --version) ends its process once it has settled.

/**
 * Once stdout and stderr hold nothing unwritten (a pipe whose reader lags keeps the rest queued, and then
 * the process ends naturally), process.exit() spares the process tearing its heap and handles down one by
 * one (~1 ms). Never for commands that leave servers or watches running after their action returns (agent
 * run, controller run, events).
 */
export function exitOnceWritten(): void {
  if (process.stdout.writableLength === 0 && process.stderr.writableLength === 0) process.exit();
}
