// Installing and removing an agent on a host, as exact argv commands on a Runner (an SSH
// session in real use, a recording runner in tests). Paths are fixed: what DESIGN.md promises.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../common/package-root.js';
import type { Runner } from '../../common/runner.js';
import { DEFAULT_AGENT_SOCKET } from '../../common/defaults.js';
import { FleetnetError } from '../../common/errors.js';

export const REMOTE = Object.freeze({
  root: '/opt/fleetnet',
  // dist/ and deploy/ side by side, as in the repository: the agent finds its DHCP scripts at ../deploy
  bundle: '/opt/fleetnet/dist/fleetnet-agent.mjs',
  /** The agent's netlink thread (agent/linux/netlink-thread.ts): found beside the bundle. */
  netlinkWorker: '/opt/fleetnet/dist/netlink-worker.cjs',
  deploy: '/opt/fleetnet/deploy',
  node: '/opt/fleetnet/bin/node',
  // the agent's native modules (in-process netlink), found by Node from the bundle's folder upwards
  modules: '/opt/fleetnet/node_modules',
  etc: '/etc/fleetnet/agent',
  env: '/etc/fleetnet/agent/agent.env',
  /** The agent's settings file (host add --agent-config): what `agent run` reads by default. */
  agentConfig: '/etc/fleetnet/agent.yaml',
  ca: '/etc/fleetnet/agent/ca.crt',
  token: '/etc/fleetnet/agent/join-token',
  state: '/var/lib/fleetnet/agent',
  run: '/run/fleetnet',
  socket: DEFAULT_AGENT_SOCKET,
  unit: '/etc/systemd/system/fleetnet-agent.service',
  pid: '/run/fleetnet/agent-supervisor.pid',
  log: '/var/lib/fleetnet/agent.log',
});

export interface AgentSettings {
  hostId: string;
  /** ADDR:PORT the agent listens on (the host's underlay address). */
  listen: string;
  /** ADDR:PORT where the agent reaches the controller. */
  controller: string;
}

export const localBundle = () => join(packageRoot(), 'dist', 'fleetnet-agent.mjs');
export const localNetlinkWorker = () => join(packageRoot(), 'dist', 'netlink-worker.cjs');
/** Helper scripts the agent runs (its DHCP hook), uploaded next to the bundle. */
export const DEPLOY_SCRIPTS = ['dhcp-hook', 'dhcp-private-ns'] as const;
export const localDeployScript = (name: string) => join(packageRoot(), 'deploy', name);

/**
 * The agent's in-process netlink modules (native code, so outside the one-file bundle), packed by
 * `npm run build` for this machine's CPU; undefined when the build had none to pack. A host
 * without them still works: its agent runs `ip -batch` and says so.
 */
export function localNativeArchive(root = packageRoot()): string | undefined {
  const f = join(root, 'dist', `agent-native-${process.platform}-${process.arch}.tar.gz`);
  return existsSync(f) ? f : undefined;
}

/** Unpacks an uploaded native-module archive where the agent's bundle finds it. */
export async function unpackNative(r: Runner, remoteArchive: string): Promise<void> {
  await r.run('mkdir', ['-p', REMOTE.modules]);
  await r.run('tar', ['-xzf', remoteArchive, '-C', REMOTE.modules, '--no-same-owner']);
  await r.run('rm', ['-f', remoteArchive]);
}
export const unitText = () => readFileSync(join(packageRoot(), 'deploy', 'systemd', 'fleetnet-agent.service'), 'utf8');

export function envFile(s: AgentSettings): string {
  return `FLEETNET_HOST_ID=${s.hostId}\nFLEETNET_LISTEN=${s.listen}\nFLEETNET_CONTROLLER=${s.controller}\n`;
}

/** The same arguments the unit's ExecStart gives, for the supervised (no systemd) case. */
export function agentRunArgs(s: AgentSettings): string[] {
  return [
    'agent',
    'run',
    '--socket',
    REMOTE.socket,
    '--state-dir',
    REMOTE.state,
    '--listen',
    s.listen,
    '--host-name',
    s.hostId,
    '--controller',
    s.controller,
    '--ca-file',
    REMOTE.ca,
    '--join-token-file',
    REMOTE.token,
  ];
}

/** Writes a file through the runner's stdin; mode set before the content lands. */
export async function writeRemote(r: Runner, path: string, content: string, mode: string): Promise<void> {
  await r.run('install', ['-m', mode, '/dev/null', path]);
  await r.run('sh', ['-c', 'cat > "$1"', 'sh', path], { input: content });
}

export async function makeDirs(r: Runner): Promise<void> {
  await r.run('mkdir', ['-p', `${REMOTE.root}/bin`, `${REMOTE.root}/dist`, REMOTE.deploy, REMOTE.state, REMOTE.run]);
  await r.run('install', ['-d', '-m', '0700', REMOTE.etc]);
}

export async function linkHostNode(r: Runner, nodePath: string): Promise<void> {
  await r.run('ln', ['-sfn', nodePath, REMOTE.node]);
}

/** CA, join token and agent.env; the settings file too when one was given (host add --agent-config). */
export async function writeAgentConfig(
  r: Runner,
  s: AgentSettings,
  caPem: string,
  joinToken: string,
  agentYaml?: string,
): Promise<void> {
  await writeRemote(r, REMOTE.ca, caPem, '0644');
  await writeRemote(r, REMOTE.token, joinToken + '\n', '0600');
  await writeRemote(r, REMOTE.env, envFile(s), '0600');
  if (agentYaml !== undefined) await writeRemote(r, REMOTE.agentConfig, agentYaml, '0600');
}

/** The settings agent.env holds (what the install wrote), read back for an upgrade. */
export async function readAgentSettings(r: Runner): Promise<AgentSettings> {
  const text = (await r.run('cat', [REMOTE.env])).stdout;
  const lines = text
    .split('\n')
    .map((l) => /^([A-Z_]+)=(.*)$/.exec(l.trim()))
    .filter((m) => m !== null);
  const v = Object.fromEntries(lines.map((m) => [m[1], m[2]]));
  const { FLEETNET_HOST_ID: hostId, FLEETNET_LISTEN: listen, FLEETNET_CONTROLLER: controller } = v;
  if (!hostId || !listen || !controller) {
    throw new FleetnetError(
      'failed',
      `${REMOTE.env} on the host lacks FLEETNET_HOST_ID, FLEETNET_LISTEN or FLEETNET_CONTROLLER`,
      {
        hint: 'install the agent again: fleetnet host rm H --purge, then fleetnet host add',
      },
    );
  }
  return { hostId, listen, controller };
}

/** A runner that also copies files to the host (an SSH session). */
export interface FileSender {
  putFile(local: string, remote: string): Promise<void>;
}

/** Uploads a file next to its place, then renames it there: a running agent keeps the file it has open. */
export async function replaceRemote(
  r: Runner & FileSender,
  local: string,
  remote: string,
  mode?: string,
): Promise<void> {
  await r.putFile(local, `${remote}.new`);
  if (mode) await r.run('chmod', [mode, `${remote}.new`]);
  await r.run('mv', ['-f', `${remote}.new`, remote]);
}

export async function startWithSystemd(r: Runner): Promise<void> {
  await writeRemote(r, REMOTE.unit, unitText(), '0644');
  await r.run('systemctl', ['daemon-reload']);
  await r.run('systemctl', ['enable', '--now', 'fleetnet-agent.service']);
}

/** No systemd (a lab host, a container): the agent's own supervisor, detached from the session. */
export async function startSupervised(r: Runner, s: AgentSettings): Promise<void> {
  const argv = [
    REMOTE.node,
    REMOTE.bundle,
    'agent',
    'supervise',
    '--pid-file',
    REMOTE.pid,
    '--log',
    REMOTE.log,
    '--',
    ...agentRunArgs(s),
  ];
  await r.run('sh', ['-c', 'exec setsid -f "$@" </dev/null >/dev/null 2>&1', 'sh', ...argv]);
}

/** Stops the agent's supervisor (it stops its agent on SIGTERM); waits, bounded, until it is gone. */
export async function stopSupervised(r: Runner): Promise<void> {
  await r.run(
    'sh',
    [
      '-c',
      'test -f "$1" || exit 0; p=$(cat "$1"); kill "$p" 2>/dev/null; i=0; while kill -0 "$p" ' +
        '2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done',
      'sh',
      REMOTE.pid,
    ],
    { allowFail: true },
  );
}

/** host upgrade: the new files are in place; the agent restarts on them (state and certificate stay). */
export async function restartAgent(r: Runner, systemd: boolean, s: AgentSettings): Promise<void> {
  if (systemd) {
    await writeRemote(r, REMOTE.unit, unitText(), '0644'); // the unit of this version
    await r.run('systemctl', ['daemon-reload']);
    await r.run('systemctl', ['restart', 'fleetnet-agent.service']);
    return;
  }
  await stopSupervised(r);
  await startSupervised(r, s);
}

/** Stops and removes everything an install made; what is already gone is fine. */
export async function uninstall(r: Runner, systemd: boolean): Promise<void> {
  if (systemd) {
    await r.run('systemctl', ['disable', '--now', 'fleetnet-agent.service'], { allowFail: true });
    await r.run('rm', ['-f', REMOTE.unit]);
    await r.run('systemctl', ['daemon-reload'], { allowFail: true });
  } else {
    await stopSupervised(r);
  }
  await r.run('rm', ['-f', REMOTE.log, REMOTE.pid, REMOTE.socket, REMOTE.agentConfig]);
  // contents first, then the folder where it can go (a folder may be a mount point, as in the lab)
  await r.run('sh', [
    '-c',
    'for d; do [ -e "$d" ] || continue; find "$d" -mindepth 1 -delete; rmdir "$d" 2>/dev/null || true; done',
    'sh',
    REMOTE.root,
    REMOTE.etc,
    REMOTE.state,
  ]);
}
