// A fleetnet agent for the bench, running inside the bench netns (`ip netns exec` remounts /sys, which
// the agent reads), on its own socket and state folder.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { connectAgent, type AgentConn } from '../../cli/client/agent.js';
import { startDaemon, waitReady, type BenchEnv } from './env.js';

export interface BenchAgent {
  socket: string;
  conn: AgentConn;
  logFile: string;
}

/** package.json's bin: what the `fleetnet` command runs. */
export const FLEETNET_BIN = 'bin/fleetnet.cjs';

export async function startAgent(env: BenchEnv, logLevel: string): Promise<BenchAgent> {
  const dir = join(env.tmp, 'agent');
  mkdirSync(dir, { recursive: true });
  const socket = join(dir, 'agent.sock');
  const logFile = join(dir, 'agent.log');
  const args = [
    'netns',
    'exec',
    env.netns,
    process.execPath,
    FLEETNET_BIN,
    'agent',
    'run',
    '--socket',
    socket,
    '--state-dir',
    join(dir, 'state'),
    '--log-level',
    logLevel,
  ];
  const d = startDaemon(env, 'bench agent', 'ip', args, logFile, 5_000);
  const conn = connectAgent(socket);
  env.onCleanup('close agent connection', async () => conn.close());
  await waitReady(
    'the bench agent',
    d,
    30_000,
    async () => existsSync(socket) && Boolean(await conn.call(conn.client.health, {}, 2_000)),
  );
  return { socket, conn, logFile };
}
