// Network-namespace fixtures for privileged tests: unique names, an in-process agent that acts
// inside a test namespace, fault injection, and `ip -json` dumps for before/after comparisons.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import type { OpHook } from '../../agent/linux/ip-netlink.js';
import {
  CommandError,
  ExecRunner,
  type RunOptions,
  type RunResult,
  type Runner,
  type StartOptions,
} from '../../common/runner.js';

export const sh = new ExecRunner();

export function uniquePrefix(tag: string): string {
  return `fn${tag}${process.pid.toString(36).slice(-3)}${Math.random().toString(36).slice(2, 5)}`;
}

export async function addNs(name: string): Promise<string> {
  await sh.run('ip', ['netns', 'add', name]);
  await sh.run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return `/run/netns/${name}`;
}

export async function delNs(name: string): Promise<void> {
  await sh.run('ip', ['netns', 'del', name], { allowFail: true });
}

/**
 * A host namespace with bridge br0 up and an empty container namespace, for tests of the in-process
 * netlink path; `rt` must have loaded (the machine has the native modules).
 */
export async function hostWithBridge(rt: unknown, host: string, ctr: string): Promise<void> {
  assert.equal(typeof rt, 'object', `in-process netlink must load here: ${String(rt)}`);
  await addNs(host);
  await addNs(ctr);
  await sh.run('ip', ['-n', host, 'link', 'add', 'br0', 'type', 'bridge']);
  await sh.run('ip', ['-n', host, 'link', 'set', 'br0', 'up']);
}

/** Runs every command inside a network namespace, as an agent living there would. */
export class NsRunner implements Runner {
  constructor(
    private readonly netns: string,
    private readonly inner: Runner = sh,
  ) {}
  run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult> {
    return this.inner.run('nsenter', [`--net=${this.netns}`, cmd, ...args], opts);
  }
  start(cmd: string, args: readonly string[], opts?: StartOptions): ChildProcess {
    return this.inner.start('nsenter', [`--net=${this.netns}`, cmd, ...args], opts);
  }
}

/**
 * Makes the k-th command (1-based) fail; all others run for real. `before`: it fails without
 * running; `after`: it runs, then reports failure (as a command that timed out after it acted).
 */
export class FailAtRunner implements Runner {
  count = 0;
  constructor(
    private readonly inner: Runner,
    private readonly failAt: number,
    private readonly mode: 'before' | 'after' = 'before',
  ) {}
  async run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult> {
    this.count++;
    if (this.count === this.failAt) {
      if (this.mode === 'after') await this.inner.run(cmd, args, { ...opts, allowFail: true });
      if (opts?.allowFail) return { stdout: '', stderr: 'injected failure', code: 1 };
      throw new CommandError(cmd, args, 1, 'injected failure');
    }
    return this.inner.run(cmd, args, opts);
  }
  start(cmd: string, args: readonly string[], opts?: StartOptions): ChildProcess {
    return this.inner.start(cmd, args, opts);
  }
}

/**
 * Failure at the k-th step of an attach whose work is split between execs (a Runner) and
 * in-process netlink operations (an OpHook): both count on one clock. `calls` lists every step.
 */
export class FailAtStep {
  count = 0;
  readonly calls: string[] = [];
  readonly runner: Runner;
  readonly hook: OpHook;
  constructor(inner: Runner, failAt = 0, mode: 'before' | 'after' = 'before') {
    const tick = (what: string) => {
      this.calls.push(what);
      return ++this.count === failAt;
    };
    this.runner = {
      async run(cmd, args, opts) {
        if (tick(`${cmd} ${args.join(' ')} ${opts?.input ?? ''}`)) {
          if (mode === 'after') await inner.run(cmd, args, { ...opts, allowFail: true });
          if (opts?.allowFail) return { stdout: '', stderr: 'injected failure', code: 1 };
          throw new CommandError(cmd, args, 1, 'injected failure');
        }
        return inner.run(cmd, args, opts);
      },
      start: (cmd, args, opts) => inner.start(cmd, args, opts),
    };
    let failing = false;
    this.hook = {
      before(_op, line) {
        failing = tick(`netlink ${line}`);
        if (failing && mode === 'before') throw new Error('injected failure');
      },
      after() {
        if (failing) throw new Error('injected failure after it acted');
      },
    };
  }
}

/** A sysfs mounted from inside the namespace, so /sys/class/net shows that namespace's links. */
export async function mountNsSysfs(netns: string): Promise<{ classNet: string; release(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'fleetnet-sys-'));
  await sh.run('nsenter', [`--net=${netns}`, 'mount', '-t', 'sysfs', 'sysfs', dir]);
  return {
    classNet: `${dir}/class/net`,
    async release() {
      await sh.run('umount', [dir], { allowFail: true });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Everything `ip -json` says about a namespace's links, addresses, routes and neighbours that matters here. */
export async function dumpNs(netns: string): Promise<string> {
  const q = async (...args: string[]) => {
    const r = await sh.run('nsenter', [`--net=${netns}`, 'ip', '-json', ...args]);
    return JSON.parse(r.stdout || '[]') as Record<string, unknown>[];
  };
  const links = (await q('link', 'show')).map((l) => ({
    ifname: l.ifname,
    mtu: l.mtu,
    master: l.master,
    address: l.address,
    flags: l.flags,
    alias: l.ifalias,
  }));
  const addrs = (await q('addr', 'show')).map((l) => ({
    ifname: l.ifname,
    addr: (l.addr_info as { local: string; prefixlen: number }[]).map((a) => `${a.local}/${a.prefixlen}`),
  }));
  const r4 = await q('-4', 'route', 'show', 'table', 'all');
  const r6 = (await q('-6', 'route', 'show', 'table', 'all')).filter(
    (r) => !String(r.dst).startsWith('fe80') && r.dst !== 'ff00::/8' && r.type !== 'local' && r.type !== 'multicast',
  );
  return JSON.stringify({ links, addrs, r4, r6 }, null, 1);
}

/** A process with a network namespace of its own (a "container" named by PID). */
export function startNsProcess(): ChildProcess {
  return sh.start('unshare', ['--net', '--', 'sleep', '600']);
}
