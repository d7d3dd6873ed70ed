// What a lab is called and where its pieces live: every name and path derives from the lab's name,
// so `down` can find what `up` made even when `up` died before writing it down.
import { join } from 'node:path';
import { FleetnetError, invalid } from '../common/errors.js';
import { formatAddr, parseNetwork, type Cidr } from '../common/ip.js';

export const DEFAULT_LAB_NAME = 'lab';
export const DEFAULT_UNDERLAY = '10.99.0.0/24';
export const DEFAULT_RUN_ROOT = '/run/fleetnet-lab';
export const AGENT_PORT = 7441;
export const MAX_HOSTS = 64;
/** Host i holds underlay address network + HOST_OFFSET + i (10.99.0.11 for h1), as DESIGN.md's examples do. */
const HOST_OFFSET = 10;
const NAME_RE = /^[a-z0-9]{1,8}$/;

/** Namespaces, OVS daemons and agents need root; say so before anything is tried. */
export function requireRoot(what: string): void {
  if (process.getuid?.() !== 0)
    throw new FleetnetError('permission', `${what} needs root`, {
      hint: 'run it as root (e.g. sudo fleetnet lab ...)',
    });
}

/** A lab name is a prefix: short and plain, so `L-sw`, `L-h32` and paths stay well under 15 bytes. */
export function parseLabName(s: string): string {
  if (!NAME_RE.test(s)) {
    throw invalid(
      `lab name '${s}' is not 1-8 characters of a-z and 0-9`,
      'it prefixes namespaces (NAME-h1) and paths; try e.g. --name lab2',
    );
  }
  return s;
}

export function parseHostCount(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > MAX_HOSTS)
    throw invalid(`--hosts ${n} is not a whole number from 1 to ${MAX_HOSTS}`);
  return n;
}

export function parseUnderlay(s: string, hosts: number): Cidr {
  const net = parseNetwork(s);
  if (net.addr.family !== 4)
    throw invalid(`underlay ${s} is not IPv4`, `give an IPv4 network such as ${DEFAULT_UNDERLAY}`);
  const size = 2n ** BigInt(32 - net.prefix);
  if (BigInt(HOST_OFFSET + hosts) >= size - 1n) {
    throw invalid(
      `underlay ${net.text} has no room for ${hosts} hosts (they take .${HOST_OFFSET + 1} to .${HOST_OFFSET + hosts})`,
      'give a larger network, e.g. /24',
    );
  }
  return net;
}

export interface HostLayout {
  /** h1, h2, ... (also the agent's --host-name). */
  name: string;
  index: number;
  netns: string;
  /** Port of the switch bridge inside the switch namespace. */
  switchPort: string;
  /** Underlay address with prefix, on br-phy. */
  underlayCidr: string;
  underlayIp: string;
  dir: string;
  ovsDir: string;
  ovsDb: string;
  agentSocket: string;
  agentStateDir: string;
  agentLog: string;
  listen: string;
}

export interface LabLayout {
  name: string;
  runRoot: string;
  dir: string;
  stateFile: string;
  switchNetns: string;
  switchBridge: string;
  underlay: string;
  hosts: HostLayout[];
}

export const UNDERLAY_IF = 'ul0';
export const PHYS_BRIDGE = 'br-phy';

export function labDir(name: string, runRoot = DEFAULT_RUN_ROOT): string {
  return join(runRoot, name);
}

/**
 * Every namespace a lab of this name may own: exactly NAME-sw, NAME-h<digits> (hosts), NAME-c<digits>
 * (controllers), NAME-e<digits> (etcd members) and NAME-k<digits> (the HA demo's containers).
 */
export function isLabNetns(lab: string, ns: string): boolean {
  return ns === `${lab}-sw` || new RegExp(`^${lab}-[hcek][0-9]{1,3}$`).test(ns);
}

export function layoutOf(name: string, hosts: number, underlay: Cidr, runRoot = DEFAULT_RUN_ROOT): LabLayout {
  const dir = labDir(name, runRoot);
  const hostList: HostLayout[] = [];
  for (let i = 1; i <= hosts; i++) {
    const h = `h${i}`;
    const hdir = join(dir, h);
    const ip = formatAddr(4, underlay.addr.value + BigInt(HOST_OFFSET + i));
    hostList.push({
      name: h,
      index: i,
      netns: `${name}-${h}`,
      switchPort: h,
      underlayCidr: `${ip}/${underlay.prefix}`,
      underlayIp: ip,
      dir: hdir,
      ovsDir: join(hdir, 'ovs'),
      ovsDb: `unix:${join(hdir, 'ovs', 'db.sock')}`,
      agentSocket: join(hdir, 'agent.sock'),
      agentStateDir: join(hdir, 'state'),
      agentLog: join(hdir, 'agent.log'),
      listen: `${ip}:${AGENT_PORT}`,
    });
  }
  return {
    name,
    runRoot,
    dir,
    stateFile: join(dir, 'lab.json'),
    switchNetns: `${name}-sw`,
    switchBridge: 'sw0',
    underlay: underlay.text,
    hosts: hostList,
  };
}
