// What host add --ssh and host upgrade both do on a host: learn what it has, and put this CLI's
// agent there (bundle, helper scripts, Node.js when the host's own will not do, native modules).
// Each file is uploaded beside its place and renamed there, so a running agent is never handed
// a half-written file: an upgrade swaps files under the old agent, then restarts it.
import { FleetnetError } from '../../common/errors.js';
import {
  ARCH as ARCH_OF,
  gatherFacts,
  localRuntime,
  missingPrereqs,
  planRuntime,
  type HostFacts,
  type RuntimePlan,
} from './facts.js';
import {
  DEPLOY_SCRIPTS,
  linkHostNode,
  localBundle,
  localDeployScript,
  localNativeArchive,
  localNetlinkWorker,
  makeDirs,
  REMOTE,
  replaceRemote,
  unpackNative,
} from './install.js';
import type { RemoteHost } from './ssh-session.js';

export interface HostPlan {
  facts: HostFacts;
  runtime: RuntimePlan;
}

/** The host's facts and how the agent will run there; refused (naming the fix) when it cannot. */
export async function planHost(session: RemoteHost, host: string, o: { needOvs: boolean }): Promise<HostPlan> {
  const facts = await gatherFacts(session);
  const missing = missingPrereqs(facts, o);
  if (missing.length) {
    const what = `${host} lacks: ${missing.map((m) => m.what).join(', ')}`;
    throw new FleetnetError('unsupported', what, { hint: missing.map((m) => m.fix).join('; ') });
  }
  return { facts, runtime: planRuntime(facts, localRuntime()) };
}

export function describePlan({ facts, runtime }: HostPlan): string {
  const node = runtime.ship ? `Node.js to ship (${runtime.reason})` : `Node.js ${facts.node?.version}`;
  return `${facts.arch}, kernel ${facts.kernel}, ${node}, ${facts.systemd ? 'systemd' : 'no systemd'}`;
}

/** Uploads the agent; says how it will attach (in-process netlink needs native code for the host's CPU). */
export async function uploadAgent(session: RemoteHost, { facts, runtime }: HostPlan): Promise<string> {
  await makeDirs(session);
  await replaceRemote(session, localBundle(), REMOTE.bundle);
  for (const s of DEPLOY_SCRIPTS) await replaceRemote(session, localDeployScript(s), `${REMOTE.deploy}/${s}`, '0755');
  if (runtime.ship) await replaceRemote(session, process.execPath, REMOTE.node, '0755');
  else await linkHostNode(session, runtime.nodePath);
  const native = ARCH_OF[facts.arch] === process.arch ? localNativeArchive() : undefined;
  if (native) {
    await session.putFile(native, `${REMOTE.root}/native.tar.gz`);
    await unpackNative(session, `${REMOTE.root}/native.tar.gz`);
    // The netlink work of attaches on a thread of its own, off the thread that serves gRPC.
    await replaceRemote(session, localNetlinkWorker(), REMOTE.netlinkWorker);
  }
  const shipped = runtime.ship ? `agent bundle and Node.js ${process.version}` : 'agent bundle';
  return `${shipped}; attaches by ${native ? 'in-process netlink' : 'ip -batch (no native modules for this CPU here)'}`;
}
