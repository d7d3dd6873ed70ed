// The bench's sandbox: a unique network namespace and temp folder, and one cleanup stack that runs on
// success, failure and Ctrl-C alike. Nothing here touches the machine's own namespace.
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ExecRunner, type Runner } from '../../common/runner.js';
import { UndoStack } from '../../common/undo.js';

/**
 * Variables this workplace sets that a user's machine does not, and that change what a new
 * process costs: NODE_EXTRA_CA_CERTS makes every Node process parse ~140 certificates before
 * any JavaScript runs (`node -e ""` 59 ms with it, 24 ms without, here). Docker's Go CLI ignores it.
 */
export const WORKPLACE_ONLY_ENV = ['NODE_EXTRA_CA_CERTS'] as const;

/** The environment the user-path processes (fleetnet CLI, docker CLI) run with: ours minus WORKPLACE_ONLY_ENV. */
export function userProcessEnv(from: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env = { ...from };
  for (const k of WORKPLACE_ONLY_ENV) delete env[k];
  return env;
}

/** A note for the results naming what userProcessEnv() leaves out, and what it was here. */
export function userEnvNote(from: NodeJS.ProcessEnv = process.env): string {
  const set = WORKPLACE_ONLY_ENV.filter((k) => from[k] !== undefined).map((k) => `${k}=${from[k]}`);
  const here = set.length ? `this workplace sets ${set.join(', ')}` : 'not set here either';
  return (
    `New CLI processes (fleetnet and docker) and the start-up floors run without ${WORKPLACE_ONLY_ENV.join(', ')} ` +
    `(${here}); a user's Debian machine does not set it, ` +
    'and with it every Node process first parses the ~140 certificates of that file — ' +
    'the floor rows `node -e ""` with and without it show what that costs here. ' +
    'The agent, controller and the bench itself keep the environment they were started with.'
  );
}

export interface BenchEnv {
  runId: string;
  /** Name of the bench network namespace (in /run/netns). */
  netns: string;
  netnsPath: string;
  tmp: string;
  runner: Runner;
  log: Logger;
  /** Registers an undo step; steps run newest first. */
  onCleanup(what: string, fn: () => Promise<unknown>): void;
  cleanup(): Promise<void>;
}

export async function makeBenchEnv(log: Logger, runner: Runner = new ExecRunner()): Promise<BenchEnv> {
  const runId = randomBytes(3).toString('hex');
  const undo = new UndoStack();
  let cleaning: Promise<void> | undefined;
  const netns = `fnbench-${runId}`;
  const env: BenchEnv = {
    runId,
    netns,
    netnsPath: `/run/netns/${netns}`,
    tmp: mkdtempSync(join(tmpdir(), `fnbench-${runId}-`)),
    runner,
    log,
    onCleanup: (what, fn) => undo.push(what, fn),
    cleanup: () => (cleaning ??= undo.unwind(log)),
  };
  env.onCleanup('remove temp folder', async () => {
    await unmountUnder(runner, env.tmp);
    rmSync(env.tmp, { recursive: true, force: true });
  });
  await runner.run('ip', ['netns', 'add', netns]);
  env.onCleanup('delete bench netns', async () => {
    await killNetnsPids(runner, netns, log);
    await runner.run('ip', ['netns', 'del', netns], { allowFail: true });
  });
  await runner.run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
  return env;
}

/**
 * A BenchEnv for a process already running inside a namespace it was given (bench/controller.ts
 * re-executes itself in one): the same cleanup stack, but the namespace and tmp stay the caller's.
 */
export function benchEnvIn(log: Logger, netns: string, tmp: string, runner: Runner = new ExecRunner()): BenchEnv {
  const undo = new UndoStack();
  let cleaning: Promise<void> | undefined;
  return {
    runId: randomBytes(3).toString('hex'),
    netns,
    netnsPath: `/run/netns/${netns}`,
    tmp,
    runner,
    log,
    onCleanup: (what, fn) => undo.push(what, fn),
    cleanup: () => (cleaning ??= undo.unwind(log)),
  };
}

/** Ctrl-C and SIGTERM clean up before the process ends (exit 130 / 143). */
export function cleanupOnSignals(env: BenchEnv): void {
  for (const [sig, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(sig, () => {
      env.log.warn({ sig }, 'interrupted: cleaning up');
      void env.cleanup().finally(() => process.exit(code));
    });
  }
}

/** Mounts a daemon may leave under our temp folder (overlay, netns binds), deepest first. */
export async function unmountUnder(runner: Runner, dir: string): Promise<void> {
  const mounts = readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) await runner.run('umount', ['-l', m], { allowFail: true });
}

/** Processes still inside the bench namespace are ours (agent helpers): end them before the netns goes. */
async function killNetnsPids(runner: Runner, netns: string, log: Logger): Promise<void> {
  const r = await runner.run('ip', ['netns', 'pids', netns], { allowFail: true });
  const pids = r.stdout
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((p) => Number.isInteger(p) && p > 1);
  for (const pid of pids) {
    log.warn({ pid, netns }, 'process left in the bench netns: killing it');
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
}

/** Sends SIGTERM, waits up to graceMs for the process to end, then SIGKILL. */
export async function stopProcess(pid: number | undefined, graceMs: number): Promise<void> {
  if (!pid) return;
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(pid, 'SIGTERM');
  const until = Date.now() + graceMs;
  while (alive() && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
  if (alive()) process.kill(pid, 'SIGKILL');
  for (let i = 0; i < 40 && alive(); i++) await new Promise((r) => setTimeout(r, 50));
}

export interface Daemon {
  pid: number | undefined;
  exited(): boolean;
  logTail(lines: number): string;
}

/** Starts a long-running process in its own process group, its output in logFile, stopped at cleanup. */
export function startDaemon(
  env: BenchEnv,
  what: string,
  cmd: string,
  args: string[],
  logFile: string,
  graceMs: number,
): Daemon {
  const child = env.runner.start(cmd, args, { stdio: 'pipe', detached: true });
  const log = createWriteStream(logFile);
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  let exited = false;
  child.once('exit', () => (exited = true));
  env.onCleanup(`stop ${what}`, () => stopProcess(child.pid, graceMs));
  return {
    pid: child.pid,
    exited: () => exited,
    logTail: (n) => (existsSync(logFile) ? readFileSync(logFile, 'utf8').trim().split('\n').slice(-n).join('\n') : ''),
  };
}

/** Polls `ready` until it says yes; fails with the daemon's log tail when it exits or time runs out. */
export async function waitReady(
  what: string,
  d: Daemon,
  timeoutMs: number,
  ready: () => Promise<boolean>,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await ready().catch(() => false)) return;
    if (d.exited() || Date.now() > until) {
      throw new Error(
        `${what} did not come up (${d.exited() ? 'it exited' : `no answer in ${timeoutMs / 1000} s`}); ` +
          `its log ends:\n${d.logTail(8)}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
