// A plugin process's call as the agent takes it from its CNI socket (./transport.ts): the checks the
// CNI spec asks of a plugin (the command, stdin a JSON object, a version it speaks, the environment
// the command needs) made here, once, for both thin clients (the native plugin and the Node one),
// then the handler. Its answer is what the plugin prints and how it exits.
import type { CniCall } from './handler.js';
import {
  CNI_VERSION,
  CniCode,
  CniError,
  isSupportedVersion,
  REQUIRED_ENV,
  SUPPORTED_VERSIONS,
  type CniCommand,
} from './spec.js';
import type { CniWireRequest, PluginOutcome } from './transport.js';
import { commandError, failOutcome, versionOutcome } from './plugin.js';

/** The handler's answer: stdout on success (may be empty: DEL, GC, STATUS); `code` 0, else the CNI error. */
export interface HandlerReply {
  result: string;
  code: number;
  msg: string;
  details: string;
}

/** The environment variable each field of the request came from. */
const ENV_OF = {
  CNI_CONTAINERID: 'containerId',
  CNI_NETNS: 'netns',
  CNI_IFNAME: 'ifname',
  CNI_ARGS: 'args',
  CNI_PATH: 'path',
} as const satisfies Record<string, keyof CniWireRequest>;

/** The request's shape, or why it is not one (a plugin of another fleetnet version, or not a plugin at all). */
export function parseWire(text: string): CniWireRequest | string {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    return `not JSON: ${(err as Error).message}`;
  }
  if (v?.plugin !== 'fleetnet' && v?.plugin !== 'fleetnet-ipam') return 'plugin must be fleetnet or fleetnet-ipam';
  for (const k of ['command', 'containerId', 'netns', 'ifname', 'args', 'path', 'config'] as const) {
    if (typeof v[k] !== 'string') return `${k} must be a string`;
  }
  return v as unknown as CniWireRequest;
}

/** One call from a plugin process; never rejects when `handle` does not. */
export async function answerPluginCall(
  w: CniWireRequest,
  handle: (call: CniCall) => Promise<HandlerReply>,
): Promise<PluginOutcome> {
  const bad = commandError(w.command);
  if (bad) return failOutcome(CNI_VERSION, bad);
  let conf: Record<string, unknown>;
  try {
    const v: unknown = JSON.parse(w.config);
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('the configuration is not a JSON object');
    conf = v as Record<string, unknown>;
  } catch (err) {
    return failOutcome(
      CNI_VERSION,
      new CniError(CniCode.decodeFailure, 'cannot decode the network configuration on stdin', (err as Error).message),
    );
  }
  if (w.command === 'VERSION') return versionOutcome();
  if (!isSupportedVersion(conf.cniVersion)) {
    return failOutcome(
      CNI_VERSION,
      new CniError(
        CniCode.incompatibleVersion,
        `cniVersion ${JSON.stringify(conf.cniVersion ?? null)} is not supported`,
        `${w.plugin} supports ${SUPPORTED_VERSIONS.join(', ')}`,
      ),
    );
  }
  const version = conf.cniVersion;
  const needs = REQUIRED_ENV[w.command as CniCommand];
  const missing = needs.filter((k) => !w[ENV_OF[k as keyof typeof ENV_OF]]);
  if (missing.length) {
    return failOutcome(
      version,
      new CniError(
        CniCode.invalidEnv,
        `${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not set`,
        `CNI_COMMAND=${w.command} needs ${needs.join(', ')}`,
      ),
    );
  }
  const r = await handle({
    plugin: w.plugin,
    command: w.command,
    containerId: w.containerId,
    netns: w.netns,
    ifname: w.ifname,
    config: Buffer.from(w.config),
  });
  if (r.code) return failOutcome(version, new CniError(r.code, r.msg, r.details));
  return { stdout: r.result, exitCode: 0 };
}
