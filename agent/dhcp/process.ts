// Processes the supervisor owns, identified by PID *and* start time, so that a recycled PID —
// an unrelated process — is never signalled.
import { readdir, readFile, stat } from 'node:fs/promises';
import { processStartTime } from '../containers/resolve.js';
import type { DhcpOwner } from './types.js';

export { processStartTime };

/**
 * The process that started at `start` is still running. A zombie counts as gone: a client whose
 * parent (an earlier agent) died is re-parented, and where PID 1 does not reap, its entry stays.
 */
export async function isSameProcess(pid: number, start: string): Promise<boolean> {
  if (!pid || !start) return false;
  try {
    const s = await readFile(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return f[19] === start && f[0] !== 'Z' && f[0] !== 'X';
  } catch {
    return false;
  }
}

/** Sends a signal only when `pid` is still the process that started at `start`. */
export async function signalIfSame(pid: number, start: string, sig: NodeJS.Signals): Promise<boolean> {
  if (!(await isSameProcess(pid, start))) return false;
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** Waits (bounded) until the process is gone. */
export async function waitGone(pid: number, start: string, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (!(await isSameProcess(pid, start))) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !(await isSameProcess(pid, start));
}

/** Stops a process: `sig` first, SIGKILL after `graceMs`; then whatever is left of its session. */
export async function stopProcess(pid: number, start: string, sig: NodeJS.Signals, graceMs = 5000): Promise<void> {
  if (await signalIfSame(pid, start, sig)) {
    if (!(await waitGone(pid, start, graceMs))) {
      await signalIfSame(pid, start, 'SIGKILL');
      await waitGone(pid, start, 2000);
    }
  }
  await killSession(pid, start);
}

/**
 * Each client is started as the leader of its own session (spawned detached). dhcpcd's privilege-
 * separation helpers ([privileged proxy], [BPF ARP]) stay in that session and keep the container's
 * namespace open when the leader dies (kill -9): they are found by session id and killed. A member
 * must have started no earlier than the leader, so a recycled session id is not mistaken for ours.
 */
export async function killSession(sid: number, leaderStart: string): Promise<number[]> {
  const killed: number[] = [];
  if (!sid || !leaderStart) return killed;
  for (const p of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const s = await readFile(`/proc/${p}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
      // f[0] state, f[2] pgrp, f[3] session, f[19] start time
      if (Number(f[3]) !== sid || BigInt(f[19]!) < BigInt(leaderStart)) continue;
      process.kill(Number(p), 'SIGKILL');
      killed.push(Number(p));
    } catch {
      /* exited meanwhile */
    }
  }
  return killed;
}

/**
 * Whether the namespace's owner still lives: its process (PID + start time) when there is one,
 * else the namespace path still naming the same namespace. The client itself keeps the namespace
 * open, so "the namespace exists" would never turn false while the client runs.
 */
export async function ownerAlive(owner: DhcpOwner, netns: string): Promise<boolean> {
  if (owner.pid && owner.pidStart) return isSameProcess(owner.pid, owner.pidStart);
  try {
    const s = await stat(netns);
    return `${s.dev}:${s.ino}` === owner.nsKey;
  } catch {
    return false;
  }
}

/** The owner of a target: its process and start time when it has one, else the namespace's identity. */
export async function ownerOf(c: { pid: number; nsKey: string; runtime?: string; id?: string }): Promise<DhcpOwner> {
  const pidStart = c.pid ? await processStartTime(c.pid) : undefined;
  return {
    nsKey: c.nsKey,
    ...(c.runtime === 'docker' && c.id ? { containerId: c.id } : {}),
    ...(c.pid && pidStart ? { pid: c.pid, pidStart } : {}),
  };
}
