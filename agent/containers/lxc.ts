// LXC containers through their cgroups: which container a process is in, and a container's first
// process when lxc-info is not installed. cgroup v1 (`/lxc/NAME`, LXC ≤ 3), v2 and hybrid
// (`/lxc.payload.NAME`, LXC ≥ 4) layouts are all read.

/** LXC's default lxcpath (`lxc-config lxc.lxcpath`): one directory per container, holding its config. */
export const DEFAULT_LXC_PATH = '/var/lib/lxc';

export interface CgroupMount {
  mountPoint: string;
  version: 1 | 2;
  /** v1: the controllers (and `name=…`) this hierarchy carries; v2: []. */
  controllers: string[];
}

/** cgroup mounts from /proc/self/mountinfo (optional fields end at " - "). */
export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const res: CgroupMount[] = [];
  for (const l of mountinfo.split('\n')) {
    const sep = l.indexOf(' - ');
    if (sep < 0) continue;
    const left = l.slice(0, sep).split(' ');
    const [fstype, , superOpts] = l.slice(sep + 3).split(' ');
    const mountPoint = (left[4] ?? '').replace(/\\040/g, ' ');
    if (fstype === 'cgroup2') res.push({ mountPoint, version: 2, controllers: [] });
    else if (fstype === 'cgroup') {
      const known =
        /^(cpu|cpuacct|cpuset|memory|pids|devices|freezer|blkio|net_cls|net_prio|perf_event|hugetlb|rdma|misc)$|^name=/;
      res.push({ mountPoint, version: 1, controllers: (superOpts ?? '').split(',').filter((o) => known.test(o)) });
    }
  }
  return res;
}

const PATTERNS = [(n: string) => `lxc.payload.${n}`, (n: string) => `lxc/${n}`, (n: string) => `lxc.payload/${n}`];

/** Where a container's processes are listed, most reliable first: v2 (unified) then v1 pids/memory/cpuset/systemd. */
export function lxcCgroupProcFiles(name: string, mounts: CgroupMount[]): string[] {
  const v1Rank = (m: CgroupMount) =>
    ['pids', 'memory', 'cpuset', 'name=systemd'].findIndex((c) => m.controllers.includes(c));
  const ordered = [
    ...mounts.filter((m) => m.version === 2),
    ...mounts.filter((m) => m.version === 1 && v1Rank(m) >= 0).sort((a, b) => v1Rank(a) - v1Rank(b)),
  ];
  return ordered.flatMap((m) => PATTERNS.map((p) => `${m.mountPoint}/${p(name)}/cgroup.procs`));
}

/** The LXC container a process belongs to, from /proc/PID/cgroup; undefined when none. */
export function lxcNameOfCgroup(procCgroup: string): string | undefined {
  for (const l of procCgroup.split('\n')) {
    const path = l.split(':').slice(2).join(':');
    const m = /^\/lxc\.payload[./]([^/]+)|^\/lxc\/([^/]+)/.exec(path);
    if (m) return m[1] ?? m[2];
  }
  return undefined;
}

/** A container's first process, from its cgroup (what pipework did, for v1, v2 and hybrid hosts). */
export function lxcPidFromCgroups(
  name: string,
  mountinfo: string,
  read: (path: string) => string | undefined,
): number | undefined {
  for (const f of lxcCgroupProcFiles(name, parseCgroupMounts(mountinfo))) {
    const pids = (read(f) ?? '')
      .split('\n')
      .map(Number)
      .filter((p) => Number.isInteger(p) && p > 0);
    if (pids.length) return Math.min(...pids);
  }
  return undefined;
}
