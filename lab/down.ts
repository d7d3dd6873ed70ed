// labDown: removes exactly what labUp made, also when up was killed halfway and its state file is
// short: what the state file names, plus what carries the lab's prefix (NAME-sw, NAME-hN, the run
// dir in a command line, a process inside one of those namespaces, the fleetnet.lab=NAME label).
// Idempotent: a second down finds nothing and succeeds.
import { existsSync, rmdirSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { silentLogger } from '../common/logger.js';
import { ExecRunner, type Runner } from '../common/runner.js';
import { removeContainers } from './image.js';
import { DEFAULT_LAB_NAME, DEFAULT_RUN_ROOT, isLabNetns, labDir, parseLabName, requireRoot } from './layout.js';
import { findProcesses, netnsInodes, stopProcesses, type ProcInfo } from './procs.js';
import { readLabState } from './state.js';

export interface LabDownOptions {
  name?: string;
  runRoot?: string;
  runner?: Runner;
  log?: Logger;
  onStep?: (line: string) => void;
}

export interface LabDownResult {
  name: string;
  containers: string[];
  processes: { pid: number; comm: string }[];
  netns: string[];
  removedDir: boolean;
}

export const LAB_LABEL = 'fleetnet.lab';
const NETNS_DIR = '/run/netns';
const MAX_PASSES = 4;

export async function listNetns(runner: Runner): Promise<string[]> {
  const r = await runner.run('ip', ['-json', 'netns', 'list']);
  const text = r.stdout.trim();
  return text ? (JSON.parse(text) as { name: string }[]).map((n) => n.name) : [];
}

/** Removes Docker containers carrying fleetnet.lab=NAME; says so and goes on when Docker does not answer. */
export async function removeLabelledContainers(runner: Runner, label: string, log: Logger): Promise<string[]> {
  let r;
  try {
    r = await runner.run('docker', ['ps', '-aq', '--no-trunc', '--filter', `label=${label}`], {
      allowFail: true,
      timeoutMs: 20_000,
    });
  } catch (err) {
    log.warn({ err }, 'docker is not installed; no containers to remove');
    return [];
  }
  if (r.code !== 0) {
    log.warn({ stderr: r.stderr.trim() }, 'docker does not answer; labelled containers (if any) were not removed');
    return [];
  }
  const ids = r.stdout
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean);
  await removeContainers(runner, ids);
  return ids;
}

async function deleteNetns(runner: Runner, ns: string, log: Logger): Promise<void> {
  await runner.run('ip', ['netns', 'del', ns], { allowFail: true });
  const path = join(NETNS_DIR, ns);
  // `ip netns add` killed between creating the file and mounting the namespace leaves a bare file.
  if (existsSync(path)) {
    try {
      if (statSync(path).size === 0) unlinkSync(path);
    } catch (err) {
      log.warn({ err, ns }, 'could not remove a leftover netns file');
    }
  }
}

export async function labDown(opts: LabDownOptions = {}): Promise<LabDownResult> {
  const name = parseLabName(opts.name ?? DEFAULT_LAB_NAME);
  const runRoot = opts.runRoot ?? DEFAULT_RUN_ROOT;
  requireRoot('lab down');
  const runner = opts.runner ?? new ExecRunner();
  const log = opts.log ?? silentLogger();
  const step = opts.onStep ?? (() => undefined);
  const dir = labDir(name, runRoot);
  const state = readLabState(join(dir, 'lab.json'));
  const result: LabDownResult = { name, containers: [], processes: [], netns: [], removedDir: false };

  result.containers = await removeLabelledContainers(runner, `${LAB_LABEL}=${name}`, log);
  if (result.containers.length)
    step(`removed ${result.containers.length} Docker container(s) labelled ${LAB_LABEL}=${name}`);

  // More than one pass: a command that `up` had in flight when it was killed may finish after the first.
  for (let pass = 0; pass < MAX_PASSES; pass++) {
    const present = (await listNetns(runner)).filter((ns) => isLabNetns(name, ns));
    const nsNames = [...new Set([...(state?.netns ?? []), ...present])];
    const inodes = await netnsInodes(nsNames);
    const found: ProcInfo[] = await findProcesses(new Set(inodes.keys()), [`${dir}/`]);
    const recorded = (state?.processes ?? []).filter((p) => !found.some((f) => f.pid === p.pid));
    const procs = [...found, ...recorded];
    if (found.length) {
      step(`stopping ${found.length} process(es): ${found.map((p) => `${p.comm}[${p.pid}]`).join(' ')}`);
      result.processes.push(...found.map((p) => ({ pid: p.pid, comm: p.comm })));
    }
    await stopProcesses(procs, log);
    const leftoverFiles = nsNames.filter((ns) => existsSync(join(NETNS_DIR, ns)));
    for (const ns of leftoverFiles) await deleteNetns(runner, ns, log);
    if (leftoverFiles.length) {
      step(`deleted namespaces ${leftoverFiles.join(' ')}`);
      result.netns.push(...leftoverFiles);
    }
    if (!found.length && !leftoverFiles.length && pass > 0) break;
    if (pass > 0) await new Promise((r) => setTimeout(r, 100));
  }

  if (existsSync(dir)) {
    rmSync(dir, { recursive: true, force: true });
    result.removedDir = true;
    step(`removed ${dir}`);
  }
  try {
    rmdirSync(runRoot); // only when no other lab lives there
  } catch {
    /* not empty, or not there */
  }
  log.info({ lab: name, ...result }, 'lab down');
  return result;
}
