// The lab's controllers and etcd members (`lab up --controllers N --etcd M`): each in its own
// namespace on the underlay switch (NAME-c1…, NAME-e1…), controller i at .(1+i) (10.99.0.2 for
// c1) and etcd member j at .(4+j) (10.99.0.5 for e1), as the README's examples. Several
// controllers need etcd; one controller without etcd keeps a SQLite file in the lab's folder.
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { FleetnetError, invalid } from '../common/errors.js';
import { formatAddr, type Cidr } from '../common/ip.js';
import type { Runner } from '../common/runner.js';
import { etcdArgs, type EtcdMember } from './etcd.js';
import { UNDERLAY_IF, type LabLayout } from './layout.js';
import type { LabStateFile } from './state.js';
import { plugIntoSwitch } from './switch.js';

export const CONTROLLER_PORT = 7440;
export const MAX_CONTROLLERS = 3;
const ETCD_SIZES = [0, 1, 3, 5];

export interface NodeLayout {
  /** c1… or e1… */
  name: string;
  netns: string;
  /** Port of the switch bridge. */
  switchPort: string;
  ip: string;
  cidr: string;
  dir: string;
}

export interface HaLayout {
  controllers: (NodeLayout & { listen: string })[];
  etcd: (NodeLayout & { member: EtcdMember })[];
}

export function parseHa(controllers: number, etcd: number): { controllers: number; etcd: number } {
  if (!Number.isInteger(controllers) || controllers < 0 || controllers > MAX_CONTROLLERS) {
    throw invalid(`--controllers ${controllers} is not a whole number from 0 to ${MAX_CONTROLLERS}`);
  }
  if (!ETCD_SIZES.includes(etcd)) {
    throw invalid(`--etcd ${etcd} is not 0, 1, 3 or 5`, 'an etcd cluster has an odd number of members');
  }
  if (controllers > 1 && !etcd) {
    throw invalid(`${controllers} controllers need a shared store`, 'add --etcd 3 (or --etcd 1)');
  }
  if (etcd && !controllers) {
    throw invalid('--etcd without controllers has nobody to use it', 'add --controllers 1 (or more)');
  }
  return { controllers, etcd };
}

export function haLayoutOf(lab: LabLayout, underlay: Cidr, controllers: number, etcd: number): HaLayout {
  const node = (kind: 'c' | 'e', i: number, offset: number): NodeLayout => {
    const ip = formatAddr(4, underlay.addr.value + BigInt(offset + i));
    const name = `${kind}${i}`;
    const cidr = `${ip}/${underlay.prefix}`;
    return { name, netns: `${lab.name}-${name}`, switchPort: name, ip, cidr, dir: join(lab.dir, name) };
  };
  const ms = Array.from({ length: etcd }, (_, k) => node('e', k + 1, 4));
  const members: EtcdMember[] = ms.map((n) => ({
    name: n.name,
    clientUrl: `http://${n.ip}:2379`,
    peerUrl: `http://${n.ip}:2380`,
    dataDir: join(n.dir, 'data'),
  }));
  return {
    controllers: Array.from({ length: controllers }, (_, k) => {
      const n = node('c', k + 1, 1);
      return { ...n, listen: `${n.ip}:${CONTROLLER_PORT}` };
    }),
    etcd: ms.map((n, k) => ({ ...n, member: members[k]! })),
  };
}

/** A namespace with one veth to the switch and the node's underlay address on it (no OVS: it holds no containers). */
export async function buildNode(runner: Runner, lab: LabLayout, n: NodeLayout, state: LabStateFile): Promise<void> {
  mkdirSync(n.dir, { recursive: true });
  await plugIntoSwitch(runner, lab, n, state);
  await runner.run('ip', ['-n', n.netns, '-batch', '-'], {
    input: `link set lo up\naddr add ${n.cidr} dev ${UNDERLAY_IF}\nlink set ${UNDERLAY_IF} up\n`,
  });
  // The hosts' underlay address sits in a user-space Open vSwitch, which forwards a packet as it gets it: a veth's
  // checksum left to offload would arrive unfinished and be dropped (ping works, TCP does not). So: full checksums.
  const off = inNs(n.netns, ['ethtool', '-K', UNDERLAY_IF, 'tx', 'off']).slice(1);
  const r = await runner.run('ip', off, { allowFail: true });
  if (r.code !== 0) {
    const why = r.stderr.trim() || `exit ${r.code}`;
    throw new FleetnetError('failed', `ethtool -K ${UNDERLAY_IF} tx off in ${n.netns} failed: ${why}`, {
      hint: 'install ethtool (apt-get install ethtool; scripts/setup.sh does)',
    });
  }
}

const inNs = (netns: string, argv: string[]) => ['ip', 'netns', 'exec', netns, ...argv];

/** Starts argv detached (it outlives `lab up`), its output in `log`. */
function startDetached(runner: Runner, argv: string[], log: string): ChildProcess {
  const fd = openSync(log, 'a');
  try {
    const child = runner.start(argv[0]!, argv.slice(1), { detached: true, stdio: fd });
    child.unref();
    return child;
  } finally {
    closeSync(fd);
  }
}

export function startEtcd(runner: Runner, ha: HaLayout, e: HaLayout['etcd'][number], token: string): ChildProcess {
  const argv = inNs(e.netns, [
    'etcd',
    ...etcdArgs(
      e.member,
      ha.etcd.map((x) => x.member),
      token,
    ),
  ]);
  return startDetached(runner, argv, join(e.dir, 'etcd.log'));
}

export function controllerArgv(
  ha: HaLayout,
  c: HaLayout['controllers'][number],
  bin: string,
  logLevel = 'warn',
): string[] {
  const store = ha.etcd.length
    ? ['--etcd', ha.etcd.map((e) => e.member.clientUrl).join(',')]
    : ['--db', join(c.dir, 'state.db')];
  // No trust folder in the lab (its agents run --insecure-tcp): plain gRPC on the underlay.
  return inNs(c.netns, [
    process.execPath,
    bin,
    'controller',
    'run',
    '--listen',
    c.listen,
    ...store,
    '--trust-dir',
    join(c.dir, 'trust'),
    '--resync-ms',
    '2000',
    '--log-level',
    logLevel,
  ]);
}

export function startLabController(runner: Runner, c: HaLayout['controllers'][number], argv: string[]): ChildProcess {
  return startDetached(runner, argv, join(c.dir, 'controller.log'));
}

async function waitUntil(
  what: string,
  ok: () => Promise<boolean>,
  timeoutMs: number,
  alive: () => boolean,
  signal?: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    signal?.throwIfAborted();
    if (!alive()) throw new FleetnetError('failed', `${what}: the process exited`);
    if (Date.now() > deadline) throw new FleetnetError('failed', `${what}: no answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** etcd answers /health inside its namespace (the lab's addresses exist only there). */
export function waitLabEtcd(
  runner: Runner,
  e: HaLayout['etcd'][number],
  alive: () => boolean,
  signal?: AbortSignal,
): Promise<void> {
  const argv = inNs(e.netns, ['etcdctl', '--endpoints', e.member.clientUrl, 'endpoint', 'health']).slice(1);
  const env = { ...process.env, ETCDCTL_API: '3' };
  const ok = async () => (await runner.run('ip', argv, { allowFail: true, timeoutMs: 5000, env })).code === 0;
  return waitUntil(`etcd member ${e.name} (${e.member.clientUrl})`, ok, 30_000, alive, signal);
}

/** The controller answers a read through the CLI, asked from inside its namespace. */
export function waitLabController(
  runner: Runner,
  c: HaLayout['controllers'][number],
  bin: string,
  alive: () => boolean,
  signal?: AbortSignal,
): Promise<void> {
  const argv = inNs(c.netns, [process.execPath, bin, '--controller', c.listen, 'hosts', '--json']).slice(1);
  const ok = async () => (await runner.run('ip', argv, { allowFail: true, timeoutMs: 10_000 })).code === 0;
  return waitUntil(`controller ${c.name} (${c.listen})`, ok, 30_000, alive, signal);
}
