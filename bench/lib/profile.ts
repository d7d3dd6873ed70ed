// Runs bench/profile-agent.ts inside the bench netns and returns its per-attach phase timings.
import { join } from 'node:path';
import type { BenchContainer } from './docker.js';
import type { BenchEnv } from './env.js';

export interface ProfileKind {
  totals: number[];
  phases: Record<string, number>[];
  /** gRPC Attach of the same target right after (bench agent). */
  grpc: number[];
}
export type AgentProfile = Record<string, ProfileKind>;

export async function profileAgent(
  env: BenchEnv,
  cs: BenchContainer[],
  o: {
    bridge: string;
    ifname: string;
    net: number;
    warmup: number;
    socket: string;
    grpcBridge: string;
    grpcIfname: string;
  },
): Promise<AgentProfile> {
  process.stdout.write(
    `profiling the agent's Attacher in process (${cs.length} Docker-name and ${cs.length} PID attaches)…\n`,
  );
  const targets = [...cs.map((c) => `docker:${c.name}`), ...cs.map((c) => `pid:${c.pid}`)].join(',');
  const r = await env.runner.run(
    'ip',
    [
      'netns',
      'exec',
      env.netns,
      process.execPath,
      '--import',
      'tsx',
      'bench/profile-agent.ts',
      '--bridge',
      o.bridge,
      '--ifname',
      o.ifname,
      '--net',
      String(o.net),
      '--state-dir',
      join(env.tmp, 'profile-state'),
      '--targets',
      targets,
      '--warmup',
      String(o.warmup),
      '--socket',
      o.socket,
      '--grpc-bridge',
      o.grpcBridge,
      '--grpc-ifname',
      o.grpcIfname,
    ],
    { timeoutMs: 300_000 },
  );
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as AgentProfile;
}
