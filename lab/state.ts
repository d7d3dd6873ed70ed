// The lab's own record of what it made, written after every step (atomically), so `down` removes
// exactly that. Processes are recorded with their start time: a recycled PID is never killed.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';

export const ProcessRecordSchema = z.object({
  pid: z.number().int().positive(),
  /** Field 22 of /proc/PID/stat (clock ticks since boot). */
  startTime: z.string(),
  role: z.enum(['ovsdb-server', 'ovs-vswitchd', 'agent', 'etcd', 'controller']),
  host: z.string(),
});
export type ProcessRecord = z.infer<typeof ProcessRecordSchema>;

export const LabStateSchema = z.object({
  version: z.literal(1),
  name: z.string(),
  underlay: z.string(),
  hostsWanted: z.number().int(),
  createdAtMs: z.number(),
  /** Set when `up` finished. */
  ready: z.boolean(),
  netns: z.array(z.string()),
  processes: z.array(ProcessRecordSchema),
});
export type LabState = z.infer<typeof LabStateSchema>;

export function readLabState(file: string): LabState | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const parsed = LabStateSchema.safeParse(JSON.parse(text));
  return parsed.success ? parsed.data : undefined;
}

/** Keeps the state in memory and on disk in step; every mutation is written before the caller goes on. */
export class LabStateFile {
  constructor(
    readonly file: string,
    readonly state: LabState,
  ) {}

  static create(file: string, init: Omit<LabState, 'version' | 'ready' | 'netns' | 'processes'>): LabStateFile {
    mkdirSync(dirname(file), { recursive: true });
    const s = new LabStateFile(file, { version: 1, ready: false, netns: [], processes: [], ...init });
    s.save();
    return s;
  }

  addNetns(ns: string): void {
    if (!this.state.netns.includes(ns)) this.state.netns.push(ns);
    this.save();
  }

  addProcess(p: ProcessRecord): void {
    this.state.processes.push(p);
    this.save();
  }

  markReady(): void {
    this.state.ready = true;
    this.save();
  }

  private save(): void {
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.state, null, 2) + '\n');
    renameSync(tmp, this.file);
  }
}
