// The `fleetnet` and `fleetnet-ipam` CNI plugin executables: a thin client of the local agent.
// It checks what it can without the agent (command, environment, that stdin is JSON, the
// version), answers VERSION itself, and hands everything else to the agent's CNI socket
// (./transport.ts: HTTP/1.1 over a unix socket), where the agent does the work in-process.
// Bundled alone into dist/cni-plugin.cjs (scripts/build.mjs): node:http, this and ./spec.ts, nothing
// else (no commander, grpc-js, node:http2 or protobuf codec: a runtime starts one process per call).
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { DEFAULT_AGENT_SOCKET } from '../common/defaults.js';
import {
  CNI_VERSION, CniCode, CniError, COMMANDS, errorJson, isSupportedVersion, REQUIRED_ENV, SUPPORTED_VERSIONS, type CniCommand,
} from './spec.js';
import { callAgentCni, cniSocketOf, type CniWireReply, type CniWireRequest } from './transport.js';

export type PluginName = 'fleetnet' | 'fleetnet-ipam';

export interface PluginIo {
  env: NodeJS.ProcessEnv;
  stdin: Buffer;
  /** The agent's answer to one call on its gRPC socket `agentSocket`; rejects when no agent answers. */
  call(req: AgentCniRequest, agentSocket: string): Promise<AgentCniReply>;
}

export type AgentCniRequest = CniWireRequest;
export type AgentCniReply = CniWireReply;

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

export interface PluginOutcome {
  stdout: string;
  exitCode: number;
}

/** The name the plugin answers to: `fleetnet-ipam` when its file name says ipam. */
export function pluginNameOf(argv1: string | undefined): PluginName {
  return argv1 && basename(argv1).includes('ipam') ? 'fleetnet-ipam' : 'fleetnet';
}

function fail(version: string, e: CniError): PluginOutcome {
  return { stdout: `${JSON.stringify(errorJson(version, { code: e.code, msg: e.message, details: e.details }))}\n`, exitCode: 1 };
}

/** One plugin invocation, from environment and stdin to stdout and exit code. */
export async function runPlugin(name: PluginName, io: PluginIo): Promise<PluginOutcome> {
  const command = io.env.CNI_COMMAND ?? '';
  let version: string = CNI_VERSION;
  try {
    if (!command) throw new CniError(CniCode.invalidEnv, 'CNI_COMMAND is not set', 'set CNI_COMMAND to ADD, DEL, CHECK, GC, STATUS or VERSION');
    if (!(COMMANDS as readonly string[]).includes(command)) {
      throw new CniError(CniCode.invalidEnv, `CNI_COMMAND '${command}' is not a CNI command`, `one of ${COMMANDS.join(', ')}`);
    }
    let conf: Record<string, unknown>;
    try {
      const v: unknown = JSON.parse(io.stdin.toString('utf8'));
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('the configuration is not a JSON object');
      conf = v as Record<string, unknown>;
    } catch (err) {
      throw new CniError(CniCode.decodeFailure, 'cannot decode the network configuration on stdin', (err as Error).message);
    }
    if (command === 'VERSION') {
      return { stdout: `${JSON.stringify({ cniVersion: CNI_VERSION, supportedVersions: SUPPORTED_VERSIONS })}\n`, exitCode: 0 };
    }
    if (!isSupportedVersion(conf.cniVersion)) {
      throw new CniError(CniCode.incompatibleVersion, `cniVersion ${JSON.stringify(conf.cniVersion ?? null)} is not supported`, `${name} supports ${SUPPORTED_VERSIONS.join(', ')}`);
    }
    version = conf.cniVersion;
    const missing = REQUIRED_ENV[command as CniCommand].filter((k) => !io.env[k]);
    if (missing.length) throw new CniError(CniCode.invalidEnv, `${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not set`, `CNI_COMMAND=${command} needs ${REQUIRED_ENV[command as CniCommand].join(', ')}`);
    const socket = agentSocketOf(conf, io.env);
    let reply: AgentCniReply;
    try {
      reply = await io.call({
        plugin: name, command, containerId: io.env.CNI_CONTAINERID ?? '', netns: io.env.CNI_NETNS ?? '',
        ifname: io.env.CNI_IFNAME ?? '', args: io.env.CNI_ARGS ?? '', path: io.env.CNI_PATH ?? '',
        config: io.stdin.toString('utf8'),
      }, socket);
    } catch (err) {
      // No agent: nothing can be allocated or made here (STATUS's 50); the others may be retried.
      const code = command === 'STATUS' ? CniCode.notAvailable : CniCode.tryAgainLater;
      const hint = `${(err as Error).message}; start it: fleetnet agent run --socket ${socket}`
        + ' (or set agentSocket in the configuration)';
      throw new CniError(code, `the fleetnet agent does not answer at ${cniSocketOf(socket)}`, hint);
    }
    if (reply.code) return fail(version, new CniError(reply.code, reply.msg, reply.details));
    return { stdout: reply.result, exitCode: 0 };
  } catch (err) {
    if (err instanceof CniError) return fail(version, err);
    return fail(version, new CniError(CniCode.ioFailure, 'the plugin failed', (err as Error).stack ?? String(err)));
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
