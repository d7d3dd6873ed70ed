// Fixtures for the DHCP tests: a DHCP server (dnsmasq, own pid/lease/log files) on a bridge in a
// test namespace, Docker targets with no network of their own (labelled, removed after), and
// veths from the server's bridge straight into a target's namespace. Nothing touches the root namespace.
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ExecRunner } from '../../common/runner.js';
import { ensureHelperImage, HELPER_IMAGE } from '../../agent/dhcp/helper-container.js';

export const sh = new ExecRunner();
export const quietLog = pino({ level: process.env.FLEETNET_TEST_LOG ?? 'silent' });

export function uniquePrefix(tag: string): string {
  return `fn${tag}${process.pid.toString(36).slice(-3)}${Math.random().toString(36).slice(2, 5)}`;
}

export interface DhcpServer {
  ns: string;
  netns: string;
  subnet: string; // 10.77.N
  serverIp: string;
  dir: string;
  leases(): string;
  log(): string;
  plug(peerNetnsPidOrPath: string, ifname: string, mac?: string): Promise<string>;
  stop(): Promise<void>;
}

/** dnsmasq serving 10.77.N.100-200 with the shortest lease it allows (120 s), on bridge br0 of namespace `ns`. */
export async function startDhcpServer(prefix: string, leaseTime = '2m'): Promise<DhcpServer> {
  const ns = `${prefix}srv`;
  const n = 10 + Math.floor(Math.random() * 240);
  const subnet = `10.77.${n}`;
  const serverIp = `${subnet}.1`;
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-dnsmasq-`));
  await sh.run('ip', ['netns', 'add', ns]);
  const netns = `/run/netns/${ns}`;
  let proc: ChildProcess | undefined;
  let veths = 0;
  const s: DhcpServer = {
    ns,
    netns,
    subnet,
    serverIp,
    dir,
    leases: () => (existsSync(`${dir}/leases`) ? readFileSync(`${dir}/leases`, 'utf8') : ''),
    log: () => (existsSync(`${dir}/dnsmasq.log`) ? readFileSync(`${dir}/dnsmasq.log`, 'utf8') : ''),
    async plug(peer, ifname, mac) {
      const host = `v${++veths}`;
      // `netns` takes a PID or a name; a path is opened by `ip` through the name form only, so pass what we have.
      await sh.run('ip', [
        '-n',
        ns,
        'link',
        'add',
        host,
        'type',
        'veth',
        'peer',
        'name',
        ifname,
        ...(mac ? ['address', mac] : []),
        'netns',
        peer,
      ]);
      await sh.run('ip', ['-n', ns, 'link', 'set', host, 'master', 'br0', 'up']);
      return host;
    },
    async stop() {
      if (proc?.pid && proc.exitCode === null) {
        proc.kill('SIGTERM');
        await new Promise((r) => setTimeout(r, 200));
        if (proc.exitCode === null) proc.kill('SIGKILL');
      }
      await sh.run('ip', ['netns', 'del', ns], { allowFail: true });
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await sh.run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    // A fixed MAC: a bridge without one takes its lowest port's, and changes it when ports come and go;
    // a client's unicast (renewal, DHCPRELEASE) to the old MAC would then be dropped.
    await sh.run('ip', ['-n', ns, 'link', 'add', 'br0', 'address', '02:00:00:77:00:01', 'type', 'bridge']);
    await sh.run('ip', ['-n', ns, 'addr', 'add', `${serverIp}/24`, 'dev', 'br0']);
    await sh.run('ip', ['-n', ns, 'link', 'set', 'br0', 'up']);
    proc = sh.start('nsenter', [
      `--net=${netns}`,
      'dnsmasq',
      '-k',
      '--conf-file=/dev/null',
      `--pid-file=${dir}/dnsmasq.pid`,
      `--dhcp-leasefile=${dir}/leases`,
      '--interface=br0',
      '--bind-interfaces',
      '--port=0',
      '--user=root',
      '--group=root',
      `--dhcp-range=${subnet}.100,${subnet}.200,255.255.255.0,${leaseTime}`,
      `--dhcp-option=option:router,${serverIp}`,
      `--dhcp-option=option:dns-server,${serverIp}`,
      '--dhcp-authoritative',
      '--log-dhcp',
      `--log-facility=${dir}/dnsmasq.log`,
    ]);
    for (let i = 0; i < 50 && !existsSync(`${dir}/dnsmasq.pid`); i++) await new Promise((r) => setTimeout(r, 100));
    if (!existsSync(`${dir}/dnsmasq.pid`)) throw new Error('dnsmasq did not start');
    return s;
  } catch (err) {
    await s.stop();
    throw err;
  }
}

export interface Target {
  name: string;
  id: string;
  pid: number;
  netns: string;
  /** `net:[ino]`: the namespace's identity, still valid after the container is gone. */
  nsLink: string;
}

/** Namespaces of every target a run made, so its teardown can end what is left in them (e.g. after a failure). */
export const madeNetns = new Set<string>();

export async function startTarget(name: string, label: string): Promise<Target> {
  await ensureHelperImage(sh);
  const r = await sh.run('docker', [
    'run',
    '-d',
    '--network',
    'none',
    '--name',
    name,
    '--label',
    `fleetnet.test=${label}`,
    HELPER_IMAGE,
    '/bin/sleep',
    '3600',
  ]);
  const id = r.stdout.trim();
  const p = await sh.run('docker', ['inspect', '-f', '{{.State.Pid}}', id]);
  const pid = Number(p.stdout.trim());
  const nsLink = readlinkSync(`/proc/${pid}/ns/net`);
  madeNetns.add(nsLink);
  return { name, id, pid, netns: `/proc/${pid}/ns/net`, nsLink };
}

/**
 * Kills what is still running inside the namespaces of the targets this process made (clients' helpers after a failed
 * test).
 */
export function killLeftoversInTargets(): void {
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      if (madeNetns.has(readlinkSync(`/proc/${p}/ns/net`))) process.kill(Number(p), 'SIGKILL');
    } catch {
      /* exited */
    }
  }
}

export async function removeTargets(label: string): Promise<void> {
  const r = await sh.run('docker', ['ps', '-aq', '--filter', `label=fleetnet.test=${label}`], { allowFail: true });
  const ids = r.stdout.split('\n').filter(Boolean);
  if (ids.length) await sh.run('docker', ['rm', '-f', ...ids], { allowFail: true });
}

export async function addrsOf(netns: string, ifname: string): Promise<string[]> {
  const r = await sh.run('nsenter', [`--net=${netns}`, 'ip', '-4', '-json', 'addr', 'show', 'dev', ifname], {
    allowFail: true,
  });
  const rows = JSON.parse(r.stdout || '[]') as { addr_info: { local: string; prefixlen: number }[] }[];
  return rows.flatMap((x) => x.addr_info.map((a) => `${a.local}/${a.prefixlen}`));
}

export async function ping(netns: string, ip: string): Promise<boolean> {
  return (
    (await sh.run('nsenter', [`--net=${netns}`, 'ping', '-c', '1', '-W', '2', ip], { allowFail: true })).code === 0
  );
}

/** Bounded wait for a condition (count and time), for state that changes asynchronously. */
export async function until(
  what: string,
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
  explain?: () => string,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${explain ? `: ${explain()}` : ''}`);
}

/** PIDs of processes whose command line mentions `needle` (e.g. a test's state directory). */
export function processesMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p) || Number(p) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(needle)) out.push(Number(p));
    } catch {
      /* exited */
    }
  }
  return out;
}

/**
 * What keeps a network namespace (named by its `net:[ino]` link) alive: processes in it, open fds, nsfs mounts. For
 * failure messages.
 */
export function processesInNetns(nsLink: string): string[] {
  const out: string[] = [];
  const ino = nsLink.replace(/\D/g, '');
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = () => readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').slice(0, 120);
      if (readlinkSync(`/proc/${p}/ns/net`) === nsLink) out.push(`in it: ${p} ${cmd()}`);
      for (const fd of readdirSync(`/proc/${p}/fd`))
        if (readlinkSync(`/proc/${p}/fd/${fd}`) === nsLink) out.push(`fd: ${p} ${cmd()}`);
      if (readFileSync(`/proc/${p}/mountinfo`, 'utf8').includes(`net:[${ino}]`)) out.push(`mount: ${p} ${cmd()}`);
    } catch {
      /* exited */
    }
  }
  return out.length ? out : ['nothing (the kernel is still tearing it down)'];
}
