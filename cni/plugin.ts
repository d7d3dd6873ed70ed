// The `fleetnet` and `fleetnet-ipam` CNI plugin executables in Node: the fallback for hosts where
// fleetnet's native plugin (cni/native/fleetnet-cni.c, the one `fleetnet cni install` prefers) was
// not built. Both are the same thin client of the local agent and behave alike: CNI_COMMAND checked
// and VERSION answered here; every other call, as it came, to the agent's CNI socket
// (./transport.ts), where the agent checks the rest (./call.ts) and does the work in-process.
// Bundled alone into dist/cni-plugin.cjs (scripts/build.mjs): node:net, this and ./spec.ts.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { DEFAULT_AGENT_SOCKET } from '../common/defaults.js';
import { CNI_VERSION, CniCode, CniError, COMMANDS, errorJson, isSupportedVersion, SUPPORTED_VERSIONS } from './spec.js';
import {
  callAgentCni,
  cniSocketOf,
  MAX_CNI_CONFIG_BYTES,
  type CniWireRequest,
  type PluginOutcome,
} from './transport.js';

export type PluginName = 'fleetnet' | 'fleetnet-ipam';
export type { PluginOutcome };

export interface PluginIo {
  env: NodeJS.ProcessEnv;
  stdin: Buffer;
  /** The agent's answer to one call, its gRPC socket being `agentSocket`; rejects when no agent answers. */
  call(req: CniWireRequest, agentSocket: string): Promise<PluginOutcome>;
}

/**
 * The agent's socket: `agentSocket` in the configuration (in `ipam` for fleetnet-ipam), else
 * FLEETNET_AGENT_SOCKET, else the default. The configuration wins because runtimes do not always
 * pass their environment on (podman's cleanup process after a container exits, for one).
 */
export function agentSocketOf(conf: Record<string, unknown>, env: NodeJS.ProcessEnv): string {
  const ipam = conf.ipam && typeof conf.ipam === 'object' ? (conf.ipam as Record<string, unknown>) : {};
  const fromConf = [conf.agentSocket, ipam.agentSocket].find((v): v is string => typeof v === 'string' && v !== '');
  return fromConf || env.FLEETNET_AGENT_SOCKET || DEFAULT_AGENT_SOCKET;
}

/** The name the plugin answers to: `fleetnet-ipam` when its file name says ipam. */
export function pluginNameOf(argv1: string | undefined): PluginName {
  return argv1 && basename(argv1).includes('ipam') ? 'fleetnet-ipam' : 'fleetnet';
}

export function failOutcome(version: string, e: CniError): PluginOutcome {
  return {
    stdout: `${JSON.stringify(errorJson(version, { code: e.code, msg: e.message, details: e.details }))}\n`,
    exitCode: 1,
  };
}

export function versionOutcome(): PluginOutcome {
  return {
    stdout: `${JSON.stringify({ cniVersion: CNI_VERSION, supportedVersions: SUPPORTED_VERSIONS })}\n`,
    exitCode: 0,
  };
}

/** CNI_COMMAND's own check (4): the one check both plugins make before any agent is asked. */
export function commandError(command: string): CniError | undefined {
  if (!command)
    return new CniError(
      CniCode.invalidEnv,
      'CNI_COMMAND is not set',
      'set CNI_COMMAND to ADD, DEL, CHECK, GC, STATUS or VERSION',
    );
  if (!(COMMANDS as readonly string[]).includes(command)) {
    return new CniError(
      CniCode.invalidEnv,
      `CNI_COMMAND '${command}' is not a CNI command`,
      `one of ${COMMANDS.join(', ')}`,
    );
  }
  return undefined;
}

/** The configuration as far as the client needs it (the socket; the version of an error): {} if not JSON. */
function looseConf(stdin: Buffer): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(stdin.toString('utf8'));
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** One plugin invocation, from environment and stdin to stdout and exit code. */
export async function runPlugin(name: PluginName, io: PluginIo): Promise<PluginOutcome> {
  const command = io.env.CNI_COMMAND ?? '';
  const bad = commandError(command);
  if (bad) return failOutcome(CNI_VERSION, bad);
  if (command === 'VERSION') return versionOutcome();
  if (io.stdin.length > MAX_CNI_CONFIG_BYTES) {
    return failOutcome(
      CNI_VERSION,
      new CniError(
        CniCode.decodeFailure,
        `the network configuration on stdin is over ${MAX_CNI_CONFIG_BYTES} bytes`,
        'a network configuration is a few kilobytes',
      ),
    );
  }
  const conf = looseConf(io.stdin);
  const socket = agentSocketOf(conf, io.env);
  try {
    return await io.call(
      {
        plugin: name,
        command,
        containerId: io.env.CNI_CONTAINERID ?? '',
        netns: io.env.CNI_NETNS ?? '',
        ifname: io.env.CNI_IFNAME ?? '',
        args: io.env.CNI_ARGS ?? '',
        path: io.env.CNI_PATH ?? '',
        config: io.stdin.toString('utf8'),
      },
      socket,
    );
  } catch (err) {
    // No agent: nothing can be allocated or made here (STATUS's 50); the others may be retried.
    const version = isSupportedVersion(conf.cniVersion) ? conf.cniVersion : CNI_VERSION;
    const code = command === 'STATUS' ? CniCode.notAvailable : CniCode.tryAgainLater;
    const hint =
      `${(err as Error).message}; start it: fleetnet agent run --socket ${socket}` +
      ' (or set agentSocket in the configuration)';
    return failOutcome(
      version,
      new CniError(code, `the fleetnet agent does not answer at ${cniSocketOf(socket)}`, hint),
    );
  }
}

/** The executable's main: reads the real environment and stdin, talks to the real agent. */
export async function pluginMain(): Promise<void> {
  const name = pluginNameOf(process.argv[1]);
  let stdin: Buffer;
  try {
    stdin = readFileSync(0);
  } catch {
    stdin = Buffer.alloc(0);
  }
  const out = await runPlugin(name, {
    env: process.env,
    stdin,
    call: (req, socket) => callAgentCni(cniSocketOf(socket), req, 120_000),
  });
  process.stdout.write(out.stdout);
  process.exitCode = out.exitCode;
}
