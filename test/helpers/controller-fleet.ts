// A small fleet for controller tests, until the lab module (lab/) is on main: an underlay bridge in
// its own namespace, N host namespaces each running a real agent (`--listen` on its underlay
// address), and a namespace for the controller and the CLI. Every name carries a unique prefix;
// down() removes all of it. The interface (hosts, cli, stop/start) is what a lab-backed fixture
// would offer, so a test can switch to the lab by swapping startTestFleet.
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectAgent } from '../../cli/client/agent.js';
import { ExecRunner, type RunResult } from '../../common/runner.js';
import { spawnAgentIn } from './agent-process.js';

const sh = new ExecRunner();
export const FLEETNET = join(process.cwd(), 'bin/fleetnet.mjs');

export function uniquePrefix(tag: string): string {
  return `fc${tag}${process.pid.toString(36).slice(-3)}${Math.random().toString(36).slice(2, 5)}`;
}

export interface FleetHost {
  name: string;
  ns: string;
  underlayIp: string;
  agentAddr: string;
  socket: string;
  stateDir: string;
  stopAgent(): Promise<void>;
  /** kill -9: no clean stop (the agent's records and links stay as the kill found them). */
  killAgent(): Promise<void>;
  startAgent(): Promise<void>;
}

export interface TestFleet {
  prefix: string;
  dir: string;
  controllerNs: string;
  controllerAddr: string;
  db: string;
  hosts: FleetHost[];
  /** An underlay address no agent answers on. */
  deadAddr: string;
  startController(extra?: string[]): Promise<void>;
  stopController(signal?: NodeJS.Signals): Promise<void>;
  controllerPid(): number | undefined;
  /** `fleetnet --controller … ARGS` in the controller's namespace; never throws on a non-zero exit. */
  cli(...args: string[]): Promise<RunResult>;
  /** Any command in the controller's namespace. */
  inControllerNs(cmd: string, args: string[], opts?: { timeoutMs?: number }): Promise<RunResult>;
  down(): Promise<void>;
}

async function waitFor(what: string, fn: () => Promise<boolean>, tries = 100, everyMs = 100): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await fn().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`${what}: not ready after ${tries} tries`);
}

function stopProc(p: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  return new Promise((resolve) => {
    if (!p || p.exitCode !== null || p.signalCode !== null) return resolve();
    p.once('exit', () => resolve());
    p.kill(signal);
  });
}

export interface TestFleetOptions {
  hosts: number;
  tag: string;
  /** More `agent run` flags for every host, given the controller's address (e.g. --cni-controller). */
  agentArgs?: (controllerAddr: string) => string[];
}

export async function startTestFleet(o: TestFleetOptions): Promise<TestFleet> {
  if (!existsSync('dist/fleetnet.cjs')) await sh.run('node', ['scripts/build.mjs']);
  const prefix = uniquePrefix(o.tag);
  const dir = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const sw = `${prefix}sw`;
  const ctlNs = `${prefix}c`;
  const made: string[] = [];
  const agents = new Map<string, ChildProcess>();
  let controller: ChildProcess | undefined;
  const net = `10.${200 + Math.floor(Math.random() * 50)}.${Math.floor(Math.random() * 250)}`;
  const addNs = async (name: string) => {
    await sh.run('ip', ['netns', 'add', name]);
    made.push(name);
    await sh.run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  };
  /** A veth whose both ends are made straight inside test namespaces: nothing touches the root namespace. */
  const plug = async (ns: string, ip: string, i: number) => {
    await sh.run('ip', ['-n', sw, 'link', 'add', `p${i}`, 'type', 'veth', 'peer', 'name', 'u0', 'netns', ns]);
    await sh.run('ip', ['-n', sw, 'link', 'set', `p${i}`, 'master', 'sw0', 'up']);
    await sh.run('ip', ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'u0']);
    await sh.run('ip', ['-n', ns, 'link', 'set', 'u0', 'up']);
  };
  const fleet: TestFleet = {
    prefix,
    dir,
    controllerNs: ctlNs,
    controllerAddr: `${net}.2:7440`,
    db: join(dir, 'state.db'),
    hosts: [],
    deadAddr: `${net}.99`,
    async startController(extra = []) {
      controller = sh.start(
        'ip',
        [
          'netns',
          'exec',
          ctlNs,
          'node',
          FLEETNET,
          'controller',
          'run',
          '--listen',
          fleet.controllerAddr,
          '--db',
          fleet.db,
          '--log-level',
          'warn',
          '--resync-ms',
          '1000',
          ...extra,
        ],
        { stdio: 'inherit' },
      );
      await waitFor('controller', async () => (await fleet.cli('hosts', '--json')).code === 0, 50, 200);
    },
    stopController: (signal = 'SIGTERM') => stopProc(controller, signal),
    controllerPid: () => controller?.pid,
    inControllerNs: (cmd, args, opts = {}) =>
      sh.run('ip', ['netns', 'exec', ctlNs, cmd, ...args], { allowFail: true, timeoutMs: opts.timeoutMs ?? 60_000 }),
    cli: (...args) => fleet.inControllerNs('node', [FLEETNET, '--controller', fleet.controllerAddr, ...args]),
    async down() {
      await stopProc(controller);
      await Promise.all([...agents.values()].map((p) => stopProc(p)));
      for (const ns of made.reverse()) await sh.run('ip', ['netns', 'del', ns], { allowFail: true });
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await addNs(sw);
    await sh.run('ip', ['-n', sw, 'link', 'add', 'sw0', 'type', 'bridge']);
    await sh.run('ip', ['-n', sw, 'link', 'set', 'sw0', 'up']);
    await addNs(ctlNs);
    await plug(ctlNs, `${net}.2`, 0);
    for (let i = 1; i <= o.hosts; i++) {
      const ns = `${prefix}h${i}`;
      await addNs(ns);
      const ip = `${net}.${10 + i}`;
      await plug(ns, ip, i);
      const socket = join(dir, `h${i}.sock`);
      const stateDir = join(dir, `h${i}-state`);
      const h: FleetHost = {
        name: `h${i}`,
        ns,
        underlayIp: ip,
        agentAddr: `${ip}:7441`,
        socket,
        stateDir,
        stopAgent: () => stopProc(agents.get(ns)),
        killAgent: () => stopProc(agents.get(ns), 'SIGKILL'),
        async startAgent() {
          agents.set(
            ns,
            // not enrolled: the controller runs without a CA here
            spawnAgentIn(ns, socket, stateDir, [
              '--listen',
              `${ip}:7441`,
              '--insecure-tcp',
              '--host-name',
              `h${i}`,
              ...(o.agentArgs?.(fleet.controllerAddr) ?? []),
            ]),
          );
          await waitFor(`agent h${i}`, async () => {
            const c = connectAgent(socket);
            try {
              await c.call(c.client.health, {}, 1000);
              return true;
            } finally {
              c.close();
            }
          });
        },
      };
      fleet.hosts.push(h);
      await h.startAgent();
    }
    return fleet;
  } catch (err) {
    await fleet.down();
    throw err;
  }
}
