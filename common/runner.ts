// The one way fleetnet runs an external command: argv arrays, never a shell string.
import { spawn, type ChildProcess } from 'node:child_process';
import { FleetnetError } from './errors.js';

export interface RunOptions {
  /** Written to the command's stdin (used for `ip -batch -`). */
  input?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Return a non-zero exit as a result instead of throwing. */
  allowFail?: boolean;
  env?: NodeJS.ProcessEnv;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  /** Where stdout/stderr go; default: ignored. A number is an open file descriptor (a daemon's log file). */
  stdio?: 'ignore' | 'pipe' | 'inherit' | number;
  detached?: boolean;
}

export interface Runner {
  run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** Starts a long-running process (daemons, DHCP clients); the caller owns it. */
  start(cmd: string, args: readonly string[], opts?: StartOptions): ChildProcess;
}

export class CommandError extends FleetnetError {
  readonly cmd: string;
  readonly args: readonly string[];
  readonly code: number;
  readonly stderr: string;
  constructor(cmd: string, args: readonly string[], code: number, stderr: string, cause?: unknown) {
    const detail = stderr.trim().split('\n').slice(-3).join('; ') || `exit ${code}`;
    super('failed', `${cmd} ${args.slice(0, 6).join(' ')}${args.length > 6 ? ' …' : ''}: ${detail}`, { cause });
    this.name = 'CommandError';
    this.cmd = cmd;
    this.args = args;
    this.code = code;
    this.stderr = stderr;
  }
}

const DEFAULT_TIMEOUT_MS = 30_000;

export class ExecRunner implements Runner {
  run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(cmd, args, {
        stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
        env: opts.env ?? process.env,
        timeout: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
        signal: opts.signal,
        killSignal: 'SIGKILL',
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout!.on('data', (b: Buffer) => out.push(b));
      child.stderr!.on('data', (b: Buffer) => err.push(b));
      if (opts.input !== undefined) {
        child.stdin!.on('error', () => undefined); // EPIPE when the command exits early
        child.stdin!.end(opts.input);
      }
      child.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') {
          reject(new FleetnetError('unsupported', `${cmd} is not installed on this host`, { cause: e }));
        } else reject(new CommandError(cmd, args, -1, e.message, e));
      });
      child.on('close', (code, sig) => {
        const res = {
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
          code: code ?? (sig ? 128 : -1),
        };
        if (sig && code === null) res.stderr += `\nkilled by ${sig}`;
        if (res.code !== 0 && !opts.allowFail) reject(new CommandError(cmd, args, res.code, res.stderr));
        else resolve(res);
      });
    });
  }

  start(cmd: string, args: readonly string[], opts: StartOptions = {}): ChildProcess {
    const stdio = opts.stdio ?? 'ignore';
    return spawn(cmd, args, { stdio: ['ignore', stdio, stdio], env: opts.env ?? process.env, detached: opts.detached });
  }
}

export interface RecordedCall {
  cmd: string;
  args: string[];
  input?: string;
}

/** Wraps a runner and records every call: the basis of argv-exact tests and change counting. */
export class RecordingRunner implements Runner {
  readonly calls: RecordedCall[] = [];
  constructor(private readonly inner: Runner) {}
  run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult> {
    this.calls.push({ cmd, args: [...args], ...(opts?.input !== undefined ? { input: opts.input } : {}) });
    return this.inner.run(cmd, args, opts);
  }
  start(cmd: string, args: readonly string[], opts?: StartOptions): ChildProcess {
    this.calls.push({ cmd, args: [...args] });
    return this.inner.start(cmd, args, opts);
  }
}

/** Answers from a script instead of running anything (for what this kernel cannot do). */
export class FakeRunner implements Runner {
  readonly calls: RecordedCall[] = [];
  constructor(private readonly answer: (call: RecordedCall) => Partial<RunResult> | undefined = () => undefined) {}
  async run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult> {
    const call: RecordedCall = { cmd, args: [...args], ...(opts?.input !== undefined ? { input: opts.input } : {}) };
    this.calls.push(call);
    const a = this.answer(call) ?? {};
    const res = { stdout: a.stdout ?? '', stderr: a.stderr ?? '', code: a.code ?? 0 };
    if (res.code !== 0 && !opts?.allowFail) throw new CommandError(cmd, args, res.code, res.stderr);
    return res;
  }
  start(cmd: string, args: readonly string[]): ChildProcess {
    this.calls.push({ cmd, args: [...args] });
    throw new Error('FakeRunner cannot start processes');
  }
}
