// Processes of a lab: found by what they carry (the lab's run dir in their command line) or where
// they live (one of the lab's network namespaces), and stopped only after their start time is checked.
import { readdir, readFile, readlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';

export interface ProcInfo {
  pid: number;
  /** Field 22 of /proc/PID/stat: with the PID, names one process for the life of the machine. */
  startTime: string;
  /** Field 3: R, S, Z, ... */
  state: string;
  comm: string;
  cmdline: string;
  /** Inode of the process's network namespace, when readable. */
  netnsIno?: string;
}

export async function readProcStat(
  pid: number,
): Promise<{ state: string; startTime: string; comm: string } | undefined> {
  try {
    const s = await readFile(`/proc/${pid}/stat`, 'utf8');
    const close = s.lastIndexOf(')');
    const rest = s.slice(close + 2).split(' ');
    // trimmed: a titled process's 15-byte name can end in the space after its own (`fleetnet-agent `)
    const comm = s.slice(s.indexOf('(') + 1, close).trim();
    return { comm, state: rest[0] ?? '?', startTime: rest[19] ?? '' };
  } catch {
    return undefined;
  }
}

export async function readProc(pid: number): Promise<ProcInfo | undefined> {
  const st = await readProcStat(pid);
  if (!st) return undefined;
  const info: ProcInfo = { pid, ...st, cmdline: '' };
  try {
    info.cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean).join(' ');
  } catch {
    /* gone meanwhile */
  }
  try {
    const m = /\[(\d+)\]/.exec(await readlink(`/proc/${pid}/ns/net`));
    if (m) info.netnsIno = m[1];
  } catch {
    /* zombie or gone */
  }
  return info;
}

export async function listProcesses(): Promise<ProcInfo[]> {
  const pids = (await readdir('/proc')).filter((d) => /^\d+$/.test(d)).map(Number);
  const out: ProcInfo[] = [];
  for (const pid of pids) {
    if (pid === process.pid) continue;
    const p = await readProc(pid);
    if (p) out.push(p);
  }
  return out;
}

/** Inodes of named network namespaces (/run/netns/NAME), keyed by inode. */
export async function netnsInodes(names: readonly string[], netnsDir = '/run/netns'): Promise<Map<string, string>> {
  const m = new Map<string, string>();
  for (const n of names) {
    try {
      m.set(String((await stat(join(netnsDir, n))).ino), n);
    } catch {
      /* not there (or a bare file left by a killed `ip netns add`) */
    }
  }
  return m;
}

/** Processes living in one of the given namespaces or whose command line contains one of the needles. */
export async function findProcesses(nsInodes: ReadonlySet<string>, needles: readonly string[]): Promise<ProcInfo[]> {
  const all = await listProcesses();
  return all.filter(
    (p) =>
      p.state !== 'Z' &&
      ((p.netnsIno !== undefined && nsInodes.has(p.netnsIno)) || needles.some((n) => p.cmdline.includes(n))),
  );
}

async function alive(p: { pid: number; startTime: string }): Promise<boolean> {
  const st = await readProcStat(p.pid);
  return st !== undefined && st.startTime === p.startTime && st.state !== 'Z';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function signalAll(
  procs: readonly { pid: number; startTime: string }[],
  sig: NodeJS.Signals,
  log: Logger,
): Promise<void> {
  for (const p of procs) {
    if (!(await alive(p))) continue; // gone, or the PID now belongs to someone else
    try {
      process.kill(p.pid, sig);
      log.debug({ target: p.pid, sig }, 'signalled');
    } catch {
      /* exited meanwhile */
    }
  }
}

async function waitGone(
  procs: readonly { pid: number; startTime: string }[],
  timeoutMs: number,
): Promise<{ pid: number; startTime: string }[]> {
  const deadline = Date.now() + timeoutMs;
  let left = [...procs];
  while (left.length && Date.now() < deadline) {
    const next: typeof left = [];
    for (const p of left) if (await alive(p)) next.push(p);
    left = next;
    if (left.length) await sleep(50);
  }
  return left;
}

/** SIGTERM, a grace period, then SIGKILL; every signal only after the start time still matches. */
export async function stopProcesses(
  procs: readonly { pid: number; startTime: string }[],
  log: Logger,
  graceMs = 3000,
): Promise<void> {
  if (!procs.length) return;
  await signalAll(procs, 'SIGTERM', log);
  const stubborn = await waitGone(procs, graceMs);
  if (!stubborn.length) return;
  log.warn({ targets: stubborn.map((p) => p.pid) }, 'still running after SIGTERM; sending SIGKILL');
  await signalAll(stubborn, 'SIGKILL', log);
  const left = await waitGone(stubborn, 3000);
  if (left.length) log.error({ targets: left.map((p) => p.pid) }, 'processes survived SIGKILL');
}
