// One Open vSwitch per lab host, fully in user space: its own database file, socket, run and log
// directory, both daemons inside the host's namespace, no --monitor (so `down` stops exactly them).
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FleetnetError } from '../common/errors.js';
import type { Runner } from '../common/runner.js';
import { PHYS_BRIDGE, UNDERLAY_IF, type HostLayout } from './layout.js';

export const OVS_SCHEMA = '/usr/share/openvswitch/vswitch.ovsschema';

export type OvsDaemon = 'ovsdb-server' | 'ovs-vswitchd';

function ovsEnv(dir: string): NodeJS.ProcessEnv {
  // Anything OVS would put in its default run/log/db dirs lands in this host's own dir instead.
  return { ...process.env, OVS_RUNDIR: dir, OVS_LOGDIR: dir, OVS_DBDIR: dir, OVS_SYSCONFDIR: dir };
}

export function ovsPidFile(h: HostLayout, d: OvsDaemon): string {
  return join(h.ovsDir, `${d}.pid`);
}

export function readPidFile(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function vsctl(runner: Runner, h: HostLayout, args: string[]) {
  return runner.run('ovs-vsctl', [`--db=${h.ovsDb}`, '--timeout=10', ...args], { timeoutMs: 15_000 });
}

/** Starts this host's ovsdb-server (and creates its database); returns the daemon's PID. */
export async function startOvsdb(runner: Runner, h: HostLayout): Promise<number> {
  mkdirSync(h.ovsDir, { recursive: true });
  const db = join(h.ovsDir, 'conf.db');
  await runner.run('ovsdb-tool', ['create', db, OVS_SCHEMA]);
  const sock = h.ovsDb.replace(/^unix:/, '');
  await runner.run(
    'ip',
    [
      'netns',
      'exec',
      h.netns,
      'ovsdb-server',
      db,
      `--remote=punix:${sock}`,
      `--pidfile=${ovsPidFile(h, 'ovsdb-server')}`,
      `--unixctl=${join(h.ovsDir, 'ovsdb-server.ctl')}`,
      `--log-file=${join(h.ovsDir, 'ovsdb-server.log')}`,
      '-vconsole:off',
      '--detach',
      '--no-chdir',
    ],
    { env: ovsEnv(h.ovsDir) },
  );
  await vsctl(runner, h, ['--no-wait', 'init']);
  return pidOf(h, 'ovsdb-server');
}

/** Starts this host's ovs-vswitchd on the same database; returns its PID. */
export async function startVswitchd(runner: Runner, h: HostLayout): Promise<number> {
  await runner.run(
    'ip',
    [
      'netns',
      'exec',
      h.netns,
      'ovs-vswitchd',
      h.ovsDb,
      `--pidfile=${ovsPidFile(h, 'ovs-vswitchd')}`,
      `--unixctl=${join(h.ovsDir, 'ovs-vswitchd.ctl')}`,
      `--log-file=${join(h.ovsDir, 'ovs-vswitchd.log')}`,
      '-vconsole:off',
      '--detach',
      '--no-chdir',
    ],
    { env: ovsEnv(h.ovsDir), timeoutMs: 30_000 },
  );
  return pidOf(h, 'ovs-vswitchd');
}

function pidOf(h: HostLayout, d: OvsDaemon): number {
  const pid = readPidFile(ovsPidFile(h, d));
  if (!pid)
    throw new FleetnetError('failed', `${d} of ${h.netns} started but wrote no pid file`, {
      hint: `see ${join(h.ovsDir, `${d}.log`)}`,
    });
  return pid;
}

/** br-phy (user-space datapath) with the underlay veth as its port and the host's underlay address. */
export async function ensurePhysBridge(runner: Runner, h: HostLayout): Promise<void> {
  await vsctl(runner, h, [
    '--may-exist',
    'add-br',
    PHYS_BRIDGE,
    '--',
    'set',
    'bridge',
    PHYS_BRIDGE,
    'datapath_type=netdev',
    '--',
    '--may-exist',
    'add-port',
    PHYS_BRIDGE,
    UNDERLAY_IF,
  ]);
  // The kernel still sees what arrives on the veth (OVS reads it with a raw socket) and would answer
  // ARP for the address on br-phy there too, with the veth's MAC; a peer's OVS that learns that MAC
  // sends its tunnel packets to a port that drops them (one BFD session of 2,450 stuck at 50 hosts).
  await runner.run('ip', ['netns', 'exec', h.netns, 'sysctl', '-qw', `net.ipv4.conf.${UNDERLAY_IF}.arp_ignore=1`]);
  await runner.run('ip', ['-n', h.netns, '-batch', '-'], {
    input: `addr replace ${h.underlayCidr} dev ${PHYS_BRIDGE}\nlink set ${PHYS_BRIDGE} up\n`,
  });
}
