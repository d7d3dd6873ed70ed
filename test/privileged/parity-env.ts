// Fixtures for the parity tests: unique names, netns, Docker containers, a private OVS, an agent in a netns.
// Everything made here is registered for removal with t.after, so it goes also when a test fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { ExecRunner, type RunResult } from '../../common/runner.js';

export const runner = new ExecRunner();
export const REPO = new URL('../..', import.meta.url).pathname;
export const IMAGE = 'fleetnet-test/busybox:1';

export function uniq(): string {
  return `fp${(process.pid % 1000).toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

export async function sh(cmd: string, args: string[], allowFail = false): Promise<RunResult> {
  return runner.run(cmd, args, { allowFail, timeoutMs: 60_000 });
}

/** Cleanups run newest first (node:test runs t.after hooks in the order they were added). */
export interface After {
  after(fn: () => unknown): void;
}

export function scope(t: Pick<TestContext, 'after'>): After {
  const steps: (() => unknown)[] = [];
  t.after(async () => {
    for (const f of steps.reverse()) {
      try {
        await f();
      } catch (err) {
        process.stderr.write(`cleanup step failed: ${String(err)}\n`);
      }
    }
  });
  return { after: (fn) => steps.push(fn) };
}

export async function netns(t: After, name: string): Promise<string> {
  await sh('ip', ['netns', 'add', name]);
  t.after(() => sh('ip', ['netns', 'del', name], true));
  await sh('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return name;
}

export function tempDir(t: After, prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), `${prefix}-`));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A local busybox image made with `docker import` from busybox-static (shared by test runs, never removed). */
export async function ensureImage(): Promise<void> {
  if ((await sh('docker', ['image', 'inspect', IMAGE], true)).code === 0) return;
  const dir = mkdtempSync(join(tmpdir(), 'fnp-img-'));
  try {
    mkdirSync(join(dir, 'root/bin'), { recursive: true });
    writeFileSync(join(dir, 'root/bin/busybox'), readFileSync('/bin/busybox'), { mode: 0o755 });
    const applets = (await sh('/bin/busybox', ['--list'])).stdout.split('\n').filter((a) => a && a !== 'busybox');
    for (const a of applets) symlinkSync('busybox', join(dir, 'root/bin', a));
    await sh('tar', ['-C', join(dir, 'root'), '-cf', join(dir, 'img.tar'), '.']);
    await sh('docker', ['import', '-c', 'CMD ["/bin/sh"]', join(dir, 'img.tar'), IMAGE]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A running container with no network of its own, labelled with the run's prefix, removed after. */
export async function container(t: After, name: string, label: string, extra: string[] = []): Promise<{ name: string; pid: number }> {
  await ensureImage();
  await sh('docker', ['run', '-d', '--network', 'none', '--label', `fleetnet-test=${label}`, '--name', name, ...extra, IMAGE, 'sleep', '3600']);
  t.after(() => sh('docker', ['rm', '-f', name], true));
  const pid = Number((await sh('docker', ['inspect', '-f', '{{.State.Pid}}', name])).stdout.trim());
  return { name, pid };
}

export async function inContainer(name: string, args: string[], allowFail = true): Promise<RunResult> {
  return sh('docker', ['exec', name, ...args], allowFail);
}

async function waitFor(what: string, ok: () => boolean | Promise<boolean>, tries = 100, everyMs = 100): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await ok()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function killPidFile(path: string): void {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    if (pid > 0) process.kill(pid, 'SIGTERM');
  } catch {
    /* not running */
  }
}

/** A private user-space Open vSwitch inside a netns: own db, sockets and run dir, no --monitor. */
export async function startOvs(t: After, ns: string, dir: string): Promise<string> {
  const env = { ...process.env, OVS_RUNDIR: dir, OVS_LOGDIR: dir, OVS_DBDIR: dir };
  const db = `unix:${dir}/db.sock`;
  await sh('ovsdb-tool', ['create', `${dir}/conf.db`, '/usr/share/openvswitch/vswitch.ovsschema']);
  t.after(() => {
    killPidFile(`${dir}/ovs-vswitchd.pid`);
    killPidFile(`${dir}/ovsdb-server.pid`);
  });
  const run = (args: string[]) => runner.run('ip', ['netns', 'exec', ns, ...args], { env, timeoutMs: 30_000 });
  await run(['ovsdb-server', `${dir}/conf.db`, `--remote=punix:${dir}/db.sock`, `--pidfile=${dir}/ovsdb-server.pid`, `--unixctl=${dir}/ovsdb-server.ctl`,
    '--detach', '--no-chdir', `--log-file=${dir}/ovsdb-server.log`]);
  await sh('ovs-vsctl', [`--db=${db}`, '--no-wait', 'init']);
  await run(['ovs-vswitchd', db, `--pidfile=${dir}/ovs-vswitchd.pid`, `--unixctl=${dir}/ovs-vswitchd.ctl`, '--detach', '--no-chdir', `--log-file=${dir}/ovs-vswitchd.log`]);
  return db;
}

export interface AgentProc {
  socket: string;
  proc: ChildProcess;
  cli(args: string[]): Promise<RunResult>;
}

/** The agent, built bundle, inside a netns (or the root namespace when ns is undefined), with private paths. */
export async function startAgentProc(t: After, dir: string, opts: { ns?: string; ovsDb?: string; datapath?: string } = {}): Promise<AgentProc> {
  const socket = `${dir}/agent.sock`;
  const args = ['bin/fleetnet.mjs', 'agent', 'run', '--socket', socket, '--state-dir', `${dir}/state`, '--log-level', 'warn',
    ...(opts.ovsDb ? ['--ovs-db', opts.ovsDb] : []), ...(opts.datapath ? ['--ovs-datapath', opts.datapath] : [])];
  const proc = opts.ns
    ? spawn('ip', ['netns', 'exec', opts.ns, process.execPath, ...args], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] })
    : spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] });
  t.after(async () => {
    if (proc.exitCode === null) {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
    }
  });
  await waitFor('the agent socket', () => existsSync(socket));
  return { socket, proc, cli: (a) => runner.run(process.execPath, [`${REPO}/bin/fleetnet.mjs`, '--socket', socket, ...a], { allowFail: true, timeoutMs: 60_000 }) };
}
