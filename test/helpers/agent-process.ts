// Runs a real fleetnet agent process inside a test namespace, as the lab and the CLI would.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { connectAgent } from '../../cli/client/agent.js';
import { sh } from './netns.js';

import { ensureBuilt } from './build.js';

export const FLEETNET = join(process.cwd(), 'bin/fleetnet.mjs');

export interface AgentProc {
  socket: string;
  stateDir: string;
  proc: ChildProcess;
  stop(): Promise<void>;
  cleanup(): void;
}

/** `fleetnet agent run` in namespace NS on SOCKET and STATEDIR, logging warnings; EXTRA options after (they win). */
export function spawnAgentIn(
  ns: string,
  socket: string,
  stateDir: string,
  extra: readonly string[] = [],
): ChildProcess {
  return sh.start(
    'ip',
    [
      'netns',
      'exec',
      ns,
      'node',
      FLEETNET,
      'agent',
      'run',
      '--socket',
      socket,
      '--state-dir',
      stateDir,
      '--log-level',
      'warn',
      ...extra,
    ],
    { stdio: 'inherit' },
  );
}

export async function startAgentIn(
  ns: string,
  dir = mkdtempSync(join(tmpdir(), 'fleetnet-agent-')),
  extra: string[] = [],
): Promise<AgentProc> {
  await ensureBuilt();
  const socket = join(dir, 'agent.sock');
  const stateDir = join(dir, 'state');
  const proc = spawnAgentIn(ns, socket, stateDir, extra);
  const conn = connectAgent(socket);
  try {
    for (let i = 0; ; i++) {
      try {
        await conn.call(conn.client.health, {}, 1000);
        break;
      } catch (err) {
        if (i >= 100 || proc.exitCode !== null) {
          // An agent that never answered is not left behind: it would keep the test process alive.
          await stopProc(proc, 'SIGKILL');
          throw err;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    conn.close();
  }
  const stop = () => stopProc(proc, 'SIGTERM');
  return { socket, stateDir, proc, stop, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

function stopProc(proc: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise<void>((resolve) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
    proc.once('exit', () => resolve());
    proc.kill(signal);
  });
}

/** Runs the fleetnet CLI as a user would; never throws on a non-zero exit. */
export async function cli(
  socket: string,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  return sh.run('node', [FLEETNET, '--socket', socket, ...args], { allowFail: true });
}
