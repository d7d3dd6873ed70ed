// labUp: a simulated fleet on this machine. An underlay switch (a Linux bridge in its own namespace),
// N hosts (namespaces), each with its own user-space Open vSwitch holding the underlay address on
// br-phy, and a fleetnet agent. Every step is written to the lab's state file before the next.
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import type { Logger } from 'pino';
import { conflict, FleetnetError } from '../common/errors.js';
import { silentLogger } from '../common/logger.js';
import { ExecRunner, type Runner } from '../common/runner.js';
import { fleetnetBin, startAgent, waitAgentHealthy } from './agents.js';
import {
  buildNode,
  controllerArgv,
  haLayoutOf,
  parseHa,
  startEtcd,
  startLabController,
  waitLabController,
  waitLabEtcd,
  type HaLayout,
} from './ha.js';
import { labDown, listNetns } from './down.js';
import {
  DEFAULT_LAB_NAME,
  DEFAULT_RUN_ROOT,
  DEFAULT_UNDERLAY,
  isLabNetns,
  layoutOf,
  parseHostCount,
  parseLabName,
  parseUnderlay,
  requireRoot,
  UNDERLAY_IF,
  type HostLayout,
  type LabLayout,
} from './layout.js';
import { ensurePhysBridge, startOvsdb, startVswitchd } from './ovs.js';
import { readProcStat } from './procs.js';
import { LabStateFile, type ProcessRecord } from './state.js';
import { buildSwitch, plugIntoSwitch } from './switch.js';

export interface LabUpOptions {
  name?: string;
  hosts: number;
  /** IPv4 network of the underlay; host i gets .(10+i). */
  underlay?: string;
  runRoot?: string;
  /** Start the fleetnet agents (default true). */
  agents?: boolean;
  agentLogLevel?: string;
  /** The lab controllers' --log-level (default warn; info logs each mesh push). */
  controllerLogLevel?: string;
  runner?: Runner;
  log?: Logger;
  /** One short human line per step (the CLI and the demo print them). */
  onStep?: (line: string) => void;
  signal?: AbortSignal;
  /** Leave what was made when up fails (for debugging); default: take it down again. */
  keepOnFailure?: boolean;
  /** Controllers in their own namespaces (0-3; more than one needs etcd), the lab's hosts registered with them. */
  controllers?: number;
  /** etcd members in their own namespaces (0, 1, 3 or 5), the controllers' shared store. */
  etcd?: number;
}

export interface LabHostInfo {
  name: string;
  netns: string;
  underlayIp: string;
  agentSocket: string;
  listen: string;
  ovsDb: string;
}

export interface LabUpResult {
  name: string;
  dir: string;
  underlay: string;
  switchNetns: string;
  hosts: LabHostInfo[];
  controllers: { name: string; netns: string; listen: string }[];
  etcd: { name: string; netns: string; clientUrl: string }[];
  elapsedMs: number;
}

export function hostInfo(h: HostLayout): LabHostInfo {
  return {
    name: h.name,
    netns: h.netns,
    underlayIp: h.underlayIp,
    agentSocket: h.agentSocket,
    listen: h.listen,
    ovsDb: h.ovsDb,
  };
}

async function record(state: LabStateFile, pid: number, role: ProcessRecord['role'], host: string): Promise<void> {
  const st = await readProcStat(pid);
  if (!st) throw new FleetnetError('failed', `${role} of ${host} (pid ${pid}) exited right after it started`);
  state.addProcess({ pid, startTime: st.startTime, role, host });
}

async function buildHostNetwork(runner: Runner, lab: LabLayout, h: HostLayout, state: LabStateFile): Promise<void> {
  await plugIntoSwitch(runner, lab, h, state);
  await runner.run('ip', ['-n', h.netns, '-batch', '-'], { input: `link set lo up\nlink set ${UNDERLAY_IF} up\n` });
}

async function buildHostOvs(runner: Runner, h: HostLayout, state: LabStateFile): Promise<void> {
  await record(state, await startOvsdb(runner, h), 'ovsdb-server', h.name);
  await record(state, await startVswitchd(runner, h), 'ovs-vswitchd', h.name);
  await ensurePhysBridge(runner, h);
}

/** Every host reaches every other over the underlay (through both user-space OVS instances). */
export async function checkUnderlay(runner: Runner, lab: LabLayout): Promise<void> {
  const [first, ...rest] = lab.hosts;
  if (!first) return;
  await Promise.all(
    rest.map(async (h) => {
      const r = await runner.run('ip', ['netns', 'exec', first.netns, 'ping', '-c', '1', '-W', '3', h.underlayIp], {
        allowFail: true,
        timeoutMs: 10_000,
      });
      if (r.code !== 0) {
        throw new FleetnetError('failed', `${first.name} cannot ping ${h.name} (${h.underlayIp}) over the underlay`, {
          hint: `look at ovs-vsctl --db=${first.ovsDb} show and ${first.ovsDir}/ovs-vswitchd.log`,
        });
      }
    }),
  );
}

async function allSettledOrThrow(ps: Promise<unknown>[]): Promise<void> {
  const res = await Promise.allSettled(ps);
  const bad = res.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (bad) throw bad.reason;
}

const alive = (c: ChildProcess) => () => c.exitCode === null && c.signalCode === null;

/** etcd members, then controllers, each in its namespace; the lab's hosts registered through the first controller. */
async function buildControlPlane(
  runner: Runner,
  lab: LabLayout,
  ha: HaLayout,
  bin: string,
  state: LabStateFile,
  step: (l: string) => void,
  o: { signal?: AbortSignal | undefined; logLevel?: string | undefined },
): Promise<void> {
  const signal = o.signal;
  for (const n of [...ha.etcd, ...ha.controllers]) await buildNode(runner, lab, n, state);
  if (ha.etcd.length) {
    step(`etcd: ${ha.etcd.length} member(s) ${ha.etcd.map((e) => `${e.netns}=${e.member.clientUrl}`).join(' ')}`);
    const token = `fleetnet-lab-${lab.name}-${Date.now()}`;
    const procs = ha.etcd.map((e) => startEtcd(runner, ha, e, token));
    for (const [i, p] of procs.entries()) await record(state, p.pid ?? 0, 'etcd', ha.etcd[i]!.name);
    await allSettledOrThrow(ha.etcd.map((e, i) => waitLabEtcd(runner, e, alive(procs[i]!), signal)));
  }
  const on = ha.etcd.length ? ', all on the etcd' : '';
  step(`controllers: ${ha.controllers.map((c) => `${c.netns}=${c.listen}`).join(' ')}${on}`);
  const procs = ha.controllers.map((c) => startLabController(runner, c, controllerArgv(ha, c, bin, o.logLevel)));
  for (const [i, p] of procs.entries()) await record(state, p.pid ?? 0, 'controller', ha.controllers[i]!.name);
  await allSettledOrThrow(ha.controllers.map((c, i) => waitLabController(runner, c, bin, alive(procs[i]!), signal)));
  const first = ha.controllers[0]!;
  step(`controllers: the lab's hosts registered (through ${first.name})`);
  for (const h of lab.hosts) {
    const argv = [
      'netns',
      'exec',
      first.netns,
      process.execPath,
      bin,
      '--controller',
      first.listen,
      'host',
      'add',
      h.name,
      '--addr',
      h.listen,
    ];
    await runner.run('ip', argv, { timeoutMs: 30_000 });
  }
}

export async function labUp(opts: LabUpOptions): Promise<LabUpResult> {
  const t0 = Date.now();
  const name = parseLabName(opts.name ?? DEFAULT_LAB_NAME);
  const hosts = parseHostCount(opts.hosts);
  const underlay = parseUnderlay(opts.underlay ?? DEFAULT_UNDERLAY, hosts);
  const runRoot = opts.runRoot ?? DEFAULT_RUN_ROOT;
  requireRoot('lab up');
  const runner = opts.runner ?? new ExecRunner();
  const log = opts.log ?? silentLogger();
  const step = opts.onStep ?? (() => undefined);
  const lab = layoutOf(name, hosts, underlay, runRoot);
  const ha = parseHa(opts.controllers ?? 0, opts.etcd ?? 0);
  const haLayout = haLayoutOf(lab, underlay, ha.controllers, ha.etcd);
  const withAgents = opts.agents ?? true;
  const bin = withAgents || ha.controllers ? fleetnetBin() : '';

  if (existsSync(lab.dir) || existsSync(`/run/netns/${lab.switchNetns}`)) {
    throw conflict(
      `a lab named '${name}' exists already`,
      `take it down first: fleetnet lab down --name ${name}   (or pick another --name)`,
    );
  }
  // A namespace named like this lab's that the lab did not make (a leftover, or someone else's) would fail the
  // build half-way, and the take-down after a failure removes every namespace named like the lab's.
  const taken = (await listNetns(runner)).filter((ns) => isLabNetns(name, ns));
  if (taken.length) {
    throw conflict(
      `lab '${name}' names its namespaces like these, which exist already: ${taken.join(' ')}`,
      `pick another --name, or if they are a lab's leftovers: fleetnet lab down --name ${name}`,
    );
  }
  const state = LabStateFile.create(lab.stateFile, {
    name,
    underlay: lab.underlay,
    hostsWanted: hosts,
    createdAtMs: t0,
  });
  const check = () => opts.signal?.throwIfAborted();
  try {
    step(`switch: netns ${lab.switchNetns}, Linux bridge ${lab.switchBridge}: the underlay`);
    await buildSwitch(runner, lab, state);
    check();
    step(`hosts: ${lab.hosts.map((h) => h.netns).join(' ')}, each a netns with a veth (${UNDERLAY_IF}) to the switch`);
    for (const h of lab.hosts) {
      mkdirSync(h.ovsDir, { recursive: true });
      await buildHostNetwork(runner, lab, h, state);
      check();
    }
    step('ovs: its own ovsdb-server + ovs-vswitchd in each host, user space (datapath netdev)');
    await allSettledOrThrow(lab.hosts.map((h) => buildHostOvs(runner, h, state)));
    check();
    step(
      `underlay: ${lab.hosts.map((h) => `${h.name}=${h.underlayIp}`).join(' ')} on ` +
        `br-phy; ${lab.hosts[0]!.name} pings the others`,
    );
    await checkUnderlay(runner, lab);
    check();
    if (withAgents) {
      step(`agents: one per host, inside its netns (own socket, state dir, OVS db; TCP ${lab.hosts[0]!.listen}, ...)`);
      const children = new Map<string, ChildProcess>();
      for (const h of lab.hosts) {
        const child = startAgent(runner, h, bin, opts.agentLogLevel);
        if (child.pid === undefined) throw new FleetnetError('failed', `could not start the agent of ${h.name}`);
        children.set(h.name, child);
        await record(state, child.pid, 'agent', h.name);
      }
      // All agents start at once and share the machine's CPUs: a big lab on a busy machine needs longer than a small
      // one. Waiting is safe, as an agent that exits fails the wait at once.
      const healthMs = Math.max(30_000, lab.hosts.length * 1_000);
      await allSettledOrThrow(lab.hosts.map((h) => waitAgentHealthy(h, children.get(h.name), healthMs, opts.signal)));
      step(`agents: all ${hosts} answer Health`);
    }
    if (ha.controllers)
      await buildControlPlane(runner, lab, haLayout, bin, state, step, {
        signal: opts.signal,
        logLevel: opts.controllerLogLevel,
      });
    state.markReady();
    const elapsedMs = Date.now() - t0;
    log.info({ lab: name, hosts, ...ha, elapsedMs }, 'lab up');
    return {
      name,
      dir: lab.dir,
      underlay: lab.underlay,
      switchNetns: lab.switchNetns,
      hosts: lab.hosts.map(hostInfo),
      controllers: haLayout.controllers.map((c) => ({ name: c.name, netns: c.netns, listen: c.listen })),
      etcd: haLayout.etcd.map((e) => ({ name: e.name, netns: e.netns, clientUrl: e.member.clientUrl })),
      elapsedMs,
    };
  } catch (err) {
    if (!opts.keepOnFailure) {
      step(`failed (${err instanceof Error ? err.message : String(err)}); taking the lab down again`);
      await labDown({ name, runRoot, runner, log });
    }
    throw err;
  }
}
