// A size-rotated log file for the supervised agent (hosts without systemd, hence no journald):
// when the next write would pass maxBytes, LOG.(keep-1) → LOG.keep … LOG → LOG.1, then a new LOG.
// SIGHUP-style reopen() lets an external logrotate (copytruncate not needed) move files too.
import { closeSync, existsSync, fstatSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';

export interface RotatingLogOptions {
  path: string;
  /** Rotate before the file would grow past this (default 10 MiB). */
  maxBytes?: number;
  /** Rotated files kept besides the live one (default 5; 0: truncate in place). */
  keep?: number;
}

export class RotatingLog {
  readonly path: string;
  readonly maxBytes: number;
  readonly keep: number;
  private fd: number;
  private size: number;

  constructor(o: RotatingLogOptions) {
    this.path = o.path;
    this.maxBytes = o.maxBytes ?? 10 * 1024 * 1024;
    this.keep = o.keep ?? 5;
    this.fd = openSync(this.path, 'a', 0o600);
    this.size = fstatSync(this.fd).size;
  }

  write(chunk: Buffer | string): void {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (this.size > 0 && this.size + buf.length > this.maxBytes) this.rotate();
    writeSync(this.fd, buf);
    this.size += buf.length;
  }

  /** Moves the files along (the oldest drops off) and starts an empty live file. */
  rotate(): void {
    closeSync(this.fd);
    if (this.keep === 0) rmSync(this.path, { force: true });
    else {
      for (let i = this.keep - 1; i >= 1; i--)
        if (existsSync(`${this.path}.${i}`)) renameSync(`${this.path}.${i}`, `${this.path}.${i + 1}`);
      renameSync(this.path, `${this.path}.1`);
    }
    this.reopen();
  }

  /** Opens the path again (after an outside tool moved the file). */
  reopen(): void {
    try {
      closeSync(this.fd);
    } catch {
      /* already closed by rotate() */
    }
    this.fd = openSync(this.path, 'a', 0o600);
    this.size = fstatSync(this.fd).size;
  }

  close(): void {
    closeSync(this.fd);
  }
}
