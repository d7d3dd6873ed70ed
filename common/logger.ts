// pino loggers are made here and passed down explicitly; there is no global logger.
import { pino, type Logger } from 'pino';

export type { Logger };

export function makeLogger(level = 'info', name?: string): Logger {
  return pino({ level, ...(name ? { name } : {}), base: { pid: process.pid } }, pino.destination(2));
}

export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
