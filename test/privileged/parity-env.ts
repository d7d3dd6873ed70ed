// Fixtures for the parity tests: unique names, netns, Docker containers, a private OVS, an agent in a netns.
// Everything made here is registered for removal with t.after, so it goes also when a test fails.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { ExecRunner, type RunResult } from '../../common/runner.js';
import { cli, startAgentIn } from '../helpers/agent-process.js';
import { ensureTestImage, TEST_IMAGE } from '../helpers/docker.js';

export const runner = new ExecRunner();

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

/** A running container with no network of its own, labelled with the run's prefix, removed after. */
export async function container(
  t: After,
  name: string,
  label: string,
  extra: string[] = [],
): Promise<{ name: string; pid: number }> {
  await ensureTestImage(runner);
  await sh('docker', [
    'run',
    '-d',
    '--network',
    'none',
    '--label',
    `fleetnet.test=${label}`,
    '--name',
    name,
    ...extra,
    TEST_IMAGE,
    'sleep',
    '3600',
  ]);
  t.after(() => sh('docker', ['rm', '-f', name], true));
  const pid = Number((await sh('docker', ['inspect', '-f', '{{.State.Pid}}', name])).stdout.trim());
  return { name, pid };
}

export interface LxcContainer {
  pid: number;
  /** An lxc-* command where the container's monitor runs (its command socket is abstract: that netns only). */
  lxc(cmd: string, args: string[]): Promise<RunResult>;
}

/**
 * Creates and starts an LXC busybox container with no network (`lxc.net.0.type = empty`); `ns`: start
 * it (its monitor) inside that netns. Stopped and destroyed after, from the same netns.
 */
export async function lxcContainer(t: After, name: string, ns?: string): Promise<LxcContainer> {
  const lxc = (cmd: string, args: string[]) =>
    ns ? sh('ip', ['netns', 'exec', ns, cmd, ...args], true) : sh(cmd, args, true);
  const conf = `${tempDir(t, `${name}-conf`)}/lxc.conf`;
  writeFileSync(conf, 'lxc.net.0.type = empty\n');
  t.after(() => lxc('lxc-destroy', ['-f', '-n', name]));
  const created = await sh('lxc-create', ['-n', name, '-t', 'busybox', '-f', conf], true);
  assert.equal(created.code, 0, `lxc-create failed: ${created.stderr}`);
  const started = await lxc('lxc-start', ['-n', name]);
  assert.equal(started.code, 0, `lxc-start failed: ${started.stderr}`);
  t.after(() => lxc('lxc-stop', ['-k', '-n', name]));
  const pid = Number((await lxc('lxc-info', ['-n', name, '-pH'])).stdout.trim());
  assert.ok(pid > 0, 'lxc-info gives the PID');
  return { pid, lxc };
}

export async function inContainer(name: string, args: string[], allowFail = true): Promise<RunResult> {
  return sh('docker', ['exec', name, ...args], allowFail);
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
  await run([
    'ovsdb-server',
    `${dir}/conf.db`,
    `--remote=punix:${dir}/db.sock`,
    `--pidfile=${dir}/ovsdb-server.pid`,
    `--unixctl=${dir}/ovsdb-server.ctl`,
    '--detach',
    '--no-chdir',
    `--log-file=${dir}/ovsdb-server.log`,
  ]);
  await sh('ovs-vsctl', [`--db=${db}`, '--no-wait', 'init']);
  await run([
    'ovs-vswitchd',
    db,
    `--pidfile=${dir}/ovs-vswitchd.pid`,
    `--unixctl=${dir}/ovs-vswitchd.ctl`,
    '--detach',
    '--no-chdir',
    `--log-file=${dir}/ovs-vswitchd.log`,
  ]);
  return db;
}

export interface AgentProc {
  socket: string;
  cli(args: string[]): Promise<RunResult>;
  /** Stops this agent process and starts a new one on the same socket and state dir. */
  restart(opts?: { wipeState?: boolean }): Promise<void>;
}

/** The built agent inside a netns with private paths (test/helpers/agent-process.ts), stopped after. */
export async function startAgentProc(
  t: After,
  dir: string,
  opts: { ns: string; ovsDb?: string; datapath?: string },
): Promise<AgentProc> {
  const extra = [
    ...(opts.ovsDb ? ['--ovs-db', opts.ovsDb] : []),
    ...(opts.datapath ? ['--ovs-datapath', opts.datapath] : []),
  ];
  let a = await startAgentIn(opts.ns, dir, extra);
  t.after(() => a.stop());
  return {
    socket: a.socket,
    cli: (args) => cli(a.socket, ...args),
    async restart(o = {}) {
      await a.stop();
      // A copy of the state dir is kept so that a later restart can bring the records back.
      if (o.wipeState) renameSync(`${dir}/state`, `${dir}/state.kept`);
      else if (existsSync(`${dir}/state.kept`)) {
        rmSync(`${dir}/state`, { recursive: true, force: true });
        renameSync(`${dir}/state.kept`, `${dir}/state`);
      }
      a = await startAgentIn(opts.ns, dir, extra);
    },
  };
}

/** A test "host": a netns with an agent inside it; `links()` lists the host's link names. */
export async function testHost(tc: Pick<TestContext, 'after'>) {
  const t = scope(tc);
  const p = uniq();
  const ns = await netns(t, `${p}-host`);
  const agent = await startAgentProc(t, tempDir(t, p), { ns });
  const links = async () =>
    (await sh('ip', ['-n', ns, '-o', 'link', 'show'])).stdout
      .split('\n')
      .map((l) => l.split(':')[1]?.trim().split('@')[0])
      .filter(Boolean);
  return { t, p, ns, agent, links };
}
