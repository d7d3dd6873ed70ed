// A machine snapshot as DESIGN.md defines "removes everything": netns list, root-namespace links,
// processes in the lab's namespaces or carrying its prefix, labelled containers, mounts, files
// under /run and /var/lib/fleetnet. Two snapshots taken before and after a test must be equal.
// Only what the test could have made is judged (see equalSnapshots): the machine's own changes (a
// first `mount` making /run/mount, Docker's lazy cleanup) and other sessions' runs are not the test's.
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
  const links = (
    JSON.parse((await runner.run('ip', ['-json', 'link'])).stdout) as {
      ifindex: number;
      ifname: string;
      link_type?: string;
      address?: string;
      master?: string;
    }[]
  )
    .map(
      (l) => `${l.ifindex} ${l.ifname} ${l.link_type ?? ''} ${l.address ?? ''}${l.master ? ` master ${l.master}` : ''}`,
    )
    .sort();
  const labNs = netns.filter((n) => scope.netnsPrefixes.some((p) => n.startsWith(p)));
  const inodes = await netnsInodes(labNs);
  const processes = (await findProcesses(new Set(inodes.keys()), scope.cmdlineNeedles))
    .map((p) => `${p.pid} ${p.comm}: ${p.cmdline.slice(0, 200)}`)
    .sort();
  const containers: string[] = [];
  for (const label of scope.dockerLabels ?? []) {
    const r = await runner.run(
      'docker',
      ['ps', '-a', '--no-trunc', '--filter', `label=${label}`, '--format', '{{.ID}} {{.Names}}'],
      { allowFail: true },
    );
    if (r.code !== 0) containers.push(`(docker does not answer: ${r.stderr.trim().split('\n').pop() ?? ''})`);
    else
      containers.push(
        ...r.stdout
          .split('\n')
          .filter(Boolean)
          .map((l) => `${label}: ${l}`),
      );
  }
  const files: string[] = [];
  for (const root of FILE_ROOTS) walk(root, files);
  return { netns, links, processes, containers: containers.sort(), mounts: mountsOf(), files: files.sort() };
}

export interface SnapshotDiff {
  /** True when nothing the test could have made differs. */
  equal: boolean;
  /** Readable: one line per judged difference, `+` appeared, `-` disappeared, grouped by kind. */
  text: string;
  /** Differences that name none of the test's marks: the machine's or another session's, not judged. */
  foreign: string[];
}

/**
 * Kinds whose every entry the scope already narrowed to the test's own (processes in its namespaces or
 * carrying its needle, containers with its label): every difference there is the test's.
 */
const SCOPED_KINDS = new Set<keyof Snapshot>(['processes', 'containers']);

function diffList(a: string[], b: string[]): { added: string[]; removed: string[] } {
  const sa = new Set(a);
  const sb = new Set(b);
  return { added: b.filter((x) => !sa.has(x)), removed: a.filter((x) => !sb.has(x)) };
}

/**
 * Compares two snapshots, judging only what the test could have made: entries of the scoped kinds,
 * and entries of the machine-wide kinds (netns, links, mounts, files) that name one of `mine` (the
 * lab name, the run id, paths the test installs into). Everything else is the machine's own doing
 * (Docker's lazy cleanup, /run/mount made by the machine's first mount, another session's run) and is
 * returned in `foreign`, never judged. An empty `mine` judges everything.
 */
export function equalSnapshots(before: Snapshot, after: Snapshot, mine: string[] = []): SnapshotDiff {
  const lines: string[] = [];
  const foreign: string[] = [];
  for (const k of Object.keys(before) as (keyof Snapshot)[]) {
    const d = diffList(before[k], after[k]);
    const judged = (x: string): boolean => SCOPED_KINDS.has(k) || mine.length === 0 || mine.some((m) => x.includes(m));
    const own = [...d.removed.filter(judged).map((x) => `  - ${x}`), ...d.added.filter(judged).map((x) => `  + ${x}`)];
    foreign.push(...[...d.removed, ...d.added].filter((x) => !judged(x)).map((x) => `${k}: ${x}`));
    if (own.length) lines.push(`${k}:`, ...own);
  }
  return { equal: lines.length === 0, text: lines.join('\n'), foreign };
}

/**
 * Throws with a readable diff unless nothing the test could have made differs. Differences outside
 * the test's scope are printed (so a surprise is visible) but never fail the test.
 */
export function assertSnapshotsEqual(before: Snapshot, after: Snapshot, mine: string[]): void {
  const d = equalSnapshots(before, after, mine);
  if (d.foreign.length) {
    const shown = d.foreign.slice(0, 20).join('\n  ');
    process.stderr.write(
      `snapshot: ${d.foreign.length} difference(s) outside this test's scope, not judged:\n  ${shown}\n`,
    );
  }
  if (!d.equal) throw new Error(`the machine differs from before the test:\n${d.text}`);
}
