// What a host has, asked over SSH, and what it lacks for an agent: said exactly, with the fix.
import { FleetnetError } from '../../common/errors.js';
import type { Runner } from '../../common/runner.js';

export interface HostFacts {
  arch: string; // uname -m
  kernel: string; // uname -r
  libc: { kind: 'glibc' | 'musl' | 'unknown'; version?: string };
  node?: { path: string; version: string };
  systemd: boolean;
  iproute2: boolean;
  ovs: boolean;
  modules: Record<string, boolean>;
}

export const REQUIRED_MODULES = ['veth', 'bridge'] as const;
const PROBE: Record<string, string[]> = {
  veth: ['link', 'add', 'fnprobe0', 'type', 'veth', 'peer', 'name', 'fnprobe1'],
};
/** The agent's native modules are built for this Node.js major (its ABI): a host's own Node.js must match. */
export const NODE_MAJOR = Number(process.versions.node.split('.')[0]);

const sh = (r: Runner, script: string) => r.run('sh', ['-c', script], { allowFail: true });

export async function gatherFacts(r: Runner, modules: readonly string[] = REQUIRED_MODULES): Promise<HostFacts> {
  const [uname, libc, node, systemd, ip, ovs] = await Promise.all([
    r.run('uname', ['-m', '-r']),
    sh(r, 'if ls /lib/ld-musl-* >/dev/null 2>&1; then echo musl; else ldd --version 2>&1 | head -n1; fi'),
    sh(r, 'p=$(command -v node) && echo "$p" && "$p" --version'),
    sh(r, 'test -d /run/systemd/system'),
    r.run('ip', ['-V'], { allowFail: true }).catch(() => ({ code: 127, stdout: '', stderr: '' })),
    r.run('ovs-vsctl', ['--version'], { allowFail: true }).catch(() => ({ code: 127, stdout: '', stderr: '' })),
  ]);
  const [kernel = '', arch = ''] = uname.stdout.trim().split(/\s+/);
  const l = libc.stdout.trim();
  const glibc = /(GLIBC|GNU libc)[^\d]*(\d+\.\d+)/i.exec(l) ?? /(\d+\.\d+)\s*$/.exec(l);
  const modState: Record<string, boolean> = {};
  // asked of the kernel itself, in a scratch network namespace that vanishes with the command
  // (a module list misses built-in drivers and the ones loaded on demand)
  for (const m of modules) {
    const argv = PROBE[m] ?? ['link', 'add', 'fnprobe0', 'type', m];
    modState[m] = (await r.run('unshare', ['--net', 'ip', ...argv], { allowFail: true })).code === 0;
  }
  const [nodePath, nodeVersion] = node.stdout.trim().split('\n');
  return {
    arch,
    kernel,
    libc:
      l === 'musl'
        ? { kind: 'musl' }
        : glibc
          ? { kind: 'glibc', version: glibc[glibc.length - 1] as string }
          : { kind: 'unknown' },
    ...(node.code === 0 && nodePath && nodeVersion
      ? { node: { path: nodePath, version: nodeVersion.replace(/^v/, '') } }
      : {}),
    systemd: systemd.code === 0,
    iproute2: ip.code === 0,
    ovs: ovs.code === 0,
    modules: modState,
  };
}

export interface Missing {
  what: string;
  fix: string;
}

/** Everything the host lacks, or [] when an agent can run there. */
export function missingPrereqs(f: HostFacts, o: { needOvs: boolean }): Missing[] {
  const miss: Missing[] = [];
  if (!f.iproute2) miss.push({ what: 'iproute2 (the ip command)', fix: 'install the iproute2 package' });
  for (const [m, ok] of Object.entries(f.modules))
    if (!ok)
      miss.push({ what: `kernel feature ${m}`, fix: `load its module (modprobe ${m}) or use a kernel that has it` });
  if (o.needOvs && !f.ovs)
    miss.push({
      what: 'Open vSwitch (ovs-vsctl)',
      fix: 'install openvswitch-switch: a network on this host uses --kind ovs',
    });
  return miss;
}

export const ARCH: Record<string, string> = {
  x86_64: 'x64',
  aarch64: 'arm64',
  armv7l: 'arm',
  ppc64le: 'ppc64',
  s390x: 's390x',
};

const versionAtLeast = (have: string, want: string) => {
  const [a = 0, b = 0] = have.split('.').map(Number);
  const [c = 0, d = 0] = want.split('.').map(Number);
  return a > c || (a === c && b >= d);
};

export type RuntimePlan = { ship: false; nodePath: string } | { ship: true; reason: string };

/**
 * Use the host's Node.js when it is the same major version as ours (the native modules shipped with
 * the agent are built for one ABI); else ship ours, but only where it can run: same CPU architecture,
 * glibc (not musl) at least as new as the one it was built against.
 */
export function planRuntime(f: HostFacts, local: { arch: string; glibc?: string; nodeMajor?: number }): RuntimePlan {
  const want = local.nodeMajor ?? NODE_MAJOR;
  const major = f.node ? Number(f.node.version.split('.')[0]) : 0;
  if (f.node && major === want) return { ship: false, nodePath: f.node.path };
  const reason = f.node ? `its Node.js ${f.node.version} is not Node.js ${want}` : 'it has no Node.js';
  if (ARCH[f.arch] !== local.arch) {
    throw new FleetnetError(
      'unsupported',
      `${reason}, and this machine's Node.js (${local.arch}) cannot run on ${f.arch}`,
      { hint: `install Node.js ${want} on the host` },
    );
  }
  if (!local.glibc || f.libc.kind !== 'glibc' || !f.libc.version || !versionAtLeast(f.libc.version, local.glibc)) {
    const libc = f.libc.kind === 'glibc' ? `glibc ${f.libc.version ?? '?'}` : f.libc.kind;
    throw new FleetnetError(
      'unsupported',
      `${reason}, and this machine's Node.js needs glibc ≥ ${local.glibc ?? '?'} (the host has ${libc})`,
      { hint: `install Node.js ${want} on the host` },
    );
  }
  return { ship: true, reason };
}

export function localRuntime(): { arch: string; glibc?: string } {
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return { arch: process.arch, ...(header?.glibcVersionRuntime ? { glibc: header.glibcVersionRuntime } : {}) };
}
