// labList: the labs on this machine, read from their state files and checked live (namespaces,
// agent Health over each host's socket).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseNetwork } from '../common/ip.js';
import { agentHealth } from './agents.js';
import { DEFAULT_RUN_ROOT, layoutOf } from './layout.js';
import { hostInfo, type LabHostInfo } from './up.js';
import { readLabState } from './state.js';

export interface LabHostStatus extends LabHostInfo {
  netnsPresent: boolean;
  /** "ok", or why not. */
  health: string;
  agentPid?: number;
}

export interface LabStatus {
  name: string;
  dir: string;
  underlay: string;
  ready: boolean;
  createdAtMs: number;
  hosts: LabHostStatus[];
}

export async function labList(opts: { runRoot?: string; health?: boolean } = {}): Promise<LabStatus[]> {
  const runRoot = opts.runRoot ?? DEFAULT_RUN_ROOT;
  let names: string[];
  try {
    names = readdirSync(runRoot).sort();
  } catch {
    return [];
  }
  const out: LabStatus[] = [];
  for (const name of names) {
    const state = readLabState(join(runRoot, name, 'lab.json'));
    if (!state) continue;
    const lab = layoutOf(name, state.hostsWanted, parseNetwork(state.underlay), runRoot);
    const hosts = await Promise.all(
      lab.hosts.map(async (h): Promise<LabHostStatus> => {
        const netnsPresent = existsSync(join('/run/netns', h.netns));
        let health = 'not checked';
        if (opts.health ?? true) {
          try {
            health = (await agentHealth(h.agentSocket, 1500)).status || 'ok';
          } catch (err) {
            health = existsSync(h.agentSocket)
              ? `no answer (${err instanceof Error ? err.message : String(err)})`
              : 'no agent socket';
          }
        }
        const agentPid = state.processes.find((p) => p.role === 'agent' && p.host === h.name)?.pid;
        return { ...hostInfo(h), netnsPresent, health, ...(agentPid ? { agentPid } : {}) };
      }),
    );
    out.push({
      name,
      dir: lab.dir,
      underlay: state.underlay,
      ready: state.ready,
      createdAtMs: state.createdAtMs,
      hosts,
    });
  }
  return out;
}
