// pino loggers are made here and passed down explicitly; there is no global logger.
import { pino, type Logger } from 'pino';

export type { Logger };

export function makeLogger(level = 'info', name?: string): Logger {
  return pino({ level, ...(name ? { name } : {}), base: { pid: process.pid } }, pino.destination(2));
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** Serves until SIGTERM or SIGINT, then stops the daemon (agent, controller) and returns. */
export function runUntilSignal(log: Logger, handle: { stop(): Promise<void> }): Promise<void> {
  return new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      log.info({ sig }, 'stopping');
      void handle.stop().then(resolve);
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
