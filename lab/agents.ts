// The fleetnet agent of a lab host: started inside the host's namespace with `ip netns exec` (which
// remounts /sys for that namespace; the agent reads /sys/class/net), never with default paths.
import { existsSync, closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { FleetnetError } from '../common/errors.js';
import { packageRoot } from '../common/package-root.js';
import type { Runner } from '../common/runner.js';
import type { HealthReply } from '../proto/gen/fleetnet/v1/agent.js';
import type { HostLayout } from './layout.js';

/** The repository (or installed package) root; one definition in common/ (the bootstrap needs it too). */
export const fleetnetRoot = packageRoot;

export function fleetnetBin(root = fleetnetRoot()): string {
  const bin = join(root, 'bin', 'fleetnet.cjs');
  if (!existsSync(join(root, 'dist', 'fleetnet.cjs'))) {
    throw new FleetnetError('failed', 'the fleetnet bundle is not built, so lab agents cannot start', {
      hint: `run: (cd ${root} && npm run build)`,
    });
  }
  return bin;
}

export function agentArgv(h: HostLayout, bin: string, logLevel: string): string[] {
  // --insecure-tcp: lab agents are not enrolled (trust, issue 7); without it their TCP answers Health only
  return [
    'netns',
    'exec',
    h.netns,
    process.execPath,
    bin,
    'agent',
    'run',
    '--socket',
    h.agentSocket,
    '--state-dir',
    h.agentStateDir,
    '--ovs-db',
    h.ovsDb,
    '--ovs-datapath',
    'netdev',
    '--host-name',
    h.name,
    '--listen',
    h.listen,
    '--insecure-tcp',
    '--log-level',
    logLevel,
  ];
}

/** Starts the agent detached (it outlives `lab up`), logging to the host's agent.log. */
export function startAgent(runner: Runner, h: HostLayout, bin: string, logLevel = 'info'): ChildProcess {
  const fd = openSync(h.agentLog, 'a');
  try {
    // `ip netns exec` execs the agent, so the child's PID is the agent's.
    const child = runner.start('ip', agentArgv(h, bin, logLevel), { detached: true, stdio: fd });
    child.unref();
    return child;
  } finally {
    closeSync(fd);
  }
}

export function tail(file: string, lines = 5): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Asks an agent for Health once; address is a socket path or host:port. */
export async function agentHealth(address: string, timeoutMs = 2000): Promise<HealthReply> {
  const { connectAgent } = await import('../cli/client/agent.js');
  const conn = connectAgent(address);
  try {
    return await conn.call(conn.client.health, {}, timeoutMs);
  } finally {
    conn.close();
  }
}

/** Polls Health until the agent answers; fails early when the agent process exits. */
export async function waitAgentHealthy(
  h: HostLayout,
  child: ChildProcess | undefined,
  timeoutMs = 30_000,
  signal?: AbortSignal,
): Promise<HealthReply> {
  let exited: string | undefined;
  child?.once('exit', (code, sig) => (exited = sig ?? String(code)));
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    signal?.throwIfAborted();
    if (exited !== undefined) {
      throw new FleetnetError('failed', `the agent of ${h.name} exited (${exited}) before it answered`, {
        hint: `its log ${h.agentLog} ends with:\n${tail(h.agentLog)}`,
      });
    }
    if (existsSync(h.agentSocket)) {
      try {
        return await agentHealth(h.agentSocket, 1000);
      } catch (err) {
        last = err;
      }
    }
    await sleep(50);
  }
  throw new FleetnetError('failed', `the agent of ${h.name} did not answer Health within ${timeoutMs} ms`, {
    cause: last,
    hint: `see ${h.agentLog}`,
  });
}
