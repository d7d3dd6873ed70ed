// A machine snapshot as DESIGN.md defines "removes everything": netns list, root-namespace links,
// processes in the lab's namespaces or carrying its prefix, labelled containers, mounts, files
// under /run and /var/lib/fleetnet. Two snapshots taken before and after a test must be equal.
// Other sessions may work on this machine at the same time: a diff naming things that are not the
// test's means "rerun" (CI runs one test file at a time).
import { readdirSync, readFileSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { ExecRunner, type Runner } from '../../common/runner.js';
import { findProcesses, netnsInodes } from '../../lab/procs.js';

export interface Snapshot {
  netns: string[];
  links: string[];
  processes: string[];
  containers: string[];
  mounts: string[];
  files: string[];
}

export interface SnapshotScope {
  /** Namespaces starting with one of these are "the lab's"; processes in them are listed. */
  netnsPrefixes: string[];
  /** Processes whose command line contains one of these are listed (e.g. the lab's run dir). */
  cmdlineNeedles: string[];
  /** Docker label filter KEY=VALUE for containers; none: containers are not listed. */
  dockerLabels?: string[];
  runner?: Runner;
}

const FILE_ROOTS = ['/run', '/var/lib/fleetnet'];
/**
 * Docker's libnetwork leaves /run/docker/netns/<sandbox> files after a container is removed and
 * collects them about 60 s later (its own timer); containers themselves are compared by label.
 */
const LAZY_GC = ['/run/docker/netns/'];
/**
 * The first `ip netns add` on a machine makes /run/netns and bind-mounts it onto itself, for good:
 * machine setup, not a leak (the namespaces inside it are compared).
 */
const MACHINE_SETUP = new Set(['/run/netns']);
const MAX_FILES = 200_000;

function walk(root: string, out: string[]): void {
  let entries: string[];
  try {
    entries = readdirSync(root);
  } catch {
    return;
  }
  for (const e of entries) {
    if (out.length >= MAX_FILES) return;
    const p = join(root, e);
    if (LAZY_GC.some((g) => p.startsWith(g)) || MACHINE_SETUP.has(p)) continue;
    out.push(p);
    try {
      if (lstatSync(p).isDirectory()) walk(p, out);
    } catch {
      /* vanished meanwhile */
    }
  }
}

function mountsOf(): string[] {
  // Mount point, fs type and source: mount ids are left out so that only real changes show.
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [pre, post] = l.split(' - ');
      const f = (pre ?? '').split(' ');
      const g = (post ?? '').split(' ');
      return { at: f[4] ?? '', line: `${f[4]} ${g[0]} ${g[1]}` };
    })
    .filter((m) => !MACHINE_SETUP.has(m.at))
    .map((m) => m.line)
    .sort();
}

export async function takeSnapshot(scope: SnapshotScope): Promise<Snapshot> {
  const runner = scope.runner ?? new ExecRunner();
  const nsOut = (await runner.run('ip', ['-json', 'netns', 'list'])).stdout.trim();
  const netns = (nsOut ? (JSON.parse(nsOut) as { name: string }[]).map((n) => n.name) : []).sort();
  const links = (JSON.parse((await runner.run('ip', ['-json', 'link'])).stdout) as { ifindex: number; ifname: string; link_type?: string; address?: string; master?: string }[])
    .map((l) => `${l.ifindex} ${l.ifname} ${l.link_type ?? ''} ${l.address ?? ''}${l.master ? ` master ${l.master}` : ''}`)
    .sort();
  const labNs = netns.filter((n) => scope.netnsPrefixes.some((p) => n.startsWith(p)));
  const inodes = await netnsInodes(labNs);
  const processes = (await findProcesses(new Set(inodes.keys()), scope.cmdlineNeedles))
    .map((p) => `${p.pid} ${p.comm}: ${p.cmdline.slice(0, 200)}`)
    .sort();
  const containers: string[] = [];
  for (const label of scope.dockerLabels ?? []) {
    const r = await runner.run('docker', ['ps', '-a', '--no-trunc', '--filter', `label=${label}`, '--format', '{{.ID}} {{.Names}}'], { allowFail: true });
    if (r.code !== 0) containers.push(`(docker does not answer: ${r.stderr.trim().split('\n').pop() ?? ''})`);
    else containers.push(...r.stdout.split('\n').filter(Boolean).map((l) => `${label}: ${l}`));
  }
  const files: string[] = [];
  for (const root of FILE_ROOTS) walk(root, files);
  return { netns, links, processes, containers: containers.sort(), mounts: mountsOf(), files: files.sort() };
}

export interface SnapshotDiff {
  equal: boolean;
  /** Readable: one line per difference, `+` appeared, `-` disappeared, grouped by kind. */
  text: string;
  /** How many differing lines mention none of the given words (likely another session's). */
  foreign: number;
}

function diffList(a: string[], b: string[]): { added: string[]; removed: string[] } {
  const sa = new Set(a);
  const sb = new Set(b);
  return { added: b.filter((x) => !sa.has(x)), removed: a.filter((x) => !sb.has(x)) };
}

/** Compares two snapshots; `mine` are words (lab name, run id) that mark the test's own things. */
export function equalSnapshots(before: Snapshot, after: Snapshot, mine: string[] = []): SnapshotDiff {
  const lines: string[] = [];
  let foreign = 0;
  for (const k of Object.keys(before) as (keyof Snapshot)[]) {
    const d = diffList(before[k], after[k]);
    if (!d.added.length && !d.removed.length) continue;
    lines.push(`${k}:`);
    for (const x of d.removed) lines.push(`  - ${x}`);
    for (const x of d.added) lines.push(`  + ${x}`);
    foreign += [...d.added, ...d.removed].filter((x) => !mine.some((m) => x.includes(m))).length;
  }
  if (foreign) lines.push(`(${foreign} of these name none of ${mine.join(', ') || '(nothing)'}: if they belong to another session, rerun)`);
  return { equal: lines.length === 0, text: lines.join('\n'), foreign };
}

/**
 * Throws with a readable diff unless the snapshots are equal. With FLEETNET_SNAPSHOT_IGNORE_FOREIGN=1
 * (for a machine shared with other sessions; CI never sets it) differences that name none of `mine`
 * are reported but tolerated: a leak named after the test still fails.
 */
export function assertSnapshotsEqual(before: Snapshot, after: Snapshot, mine: string[]): void {
  const d = equalSnapshots(before, after, mine);
  if (d.equal) return;
  const ownLines = d.text.split('\n').filter((l) => /^ {2}[+-] /.test(l) && mine.some((m) => l.includes(m)));
  if (process.env.FLEETNET_SNAPSHOT_IGNORE_FOREIGN === '1' && ownLines.length === 0) {
    process.stderr.write(`snapshot differences that are not this test's (tolerated):\n${d.text}\n`);
    return;
  }
  throw new Error(`the machine differs from before the test:\n${d.text}`);
}
