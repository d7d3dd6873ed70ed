// `fleetnet host add NAME --ssh USER@ADDR`: connect (host key verified), check, upload the agent
// (and Node.js if needed), configure it with a join token, start it, wait until it answers over
// mTLS with its new certificate. Anything installed is removed again if a later step fails.
import type { Logger } from 'pino';
import { FleetnetError } from '../../common/errors.js';
import { parseHostId } from '../../common/pki/identity.js';
import { UndoStack } from '../../common/undo.js';
import type { Trust } from '../pki/controller-dir.js';
import { waitForAgent } from './agent-client.js';
import { ARCH as ARCH_OF, gatherFacts, localRuntime, missingPrereqs, planRuntime } from './facts.js';
import { DEPLOY_SCRIPTS, linkHostNode, localBundle, localDeployScript, localNativeArchive, makeDirs, REMOTE, startSupervised, startWithSystemd, uninstall, unpackNative, writeAgentConfig, type AgentSettings } from './install.js';
import { SshSession, type SshTarget } from './ssh-session.js';

export type Step = 'connect' | 'check' | 'upload' | 'configure' | 'start' | 'register';
export const STEPS: readonly Step[] = ['connect', 'check', 'upload', 'configure', 'start', 'register'];

export interface ProgressEvent {
  host: string;
  step: Step;
  state: 'start' | 'done' | 'failed';
  detail?: string;
}

export interface BootstrapRequest {
  hostId: string;
  ssh: SshTarget;
  /** Agent listen address, default SSH address:7441. */
  listen?: string;
  /** Where agents reach the controller (ADDR:PORT). */
  controller: string;
  needOvs?: boolean;
}

/** Where the controller's store learns of the new host (issue 5's host registry). */
export interface HostRegistry {
  register(h: { name: string; agentAddr: string; underlayIp: string }): Promise<void>;
}

export interface BootstrapDeps {
  trust: Trust;
  log: Logger;
  progress?: (e: ProgressEvent) => void;
  registry?: HostRegistry;
  registerTimeoutMs?: number;
  tokenTtlMs?: number;
}

export interface BootstrapResult {
  host: string;
  fingerprint: string;
  pinnedNow: boolean;
  runtime: 'host' | 'shipped';
  supervisor: 'systemd' | 'fleetnet';
  agentAddr: string;
}

export async function bootstrapHost(req: BootstrapRequest, d: BootstrapDeps): Promise<BootstrapResult> {
  const host = parseHostId(req.hostId);
  const agentAddr = req.listen ?? `${req.ssh.addr.includes(':') ? `[${req.ssh.addr}]` : req.ssh.addr}:7441`;
  let current: Step = 'connect';
  const step = async <T>(s: Step, fn: () => Promise<T>, detail?: (t: T) => string): Promise<T> => {
    current = s;
    d.progress?.({ host, step: s, state: 'start' });
    const t = await fn();
    d.progress?.({ host, step: s, state: 'done', ...(detail ? { detail: detail(t) } : {}) });
    return t;
  };
  const undo = new UndoStack();
  let ssh: SshSession | undefined;
  try {
    ssh = await step('connect', () => SshSession.connect(req.ssh), (s) => `${s.hostKey.pinnedNow ? 'pinned new host key' : 'host key verified'} ${s.hostKey.fingerprint}`);
    const session = ssh;
    const { facts, runtime } = await step('check', async () => {
      // never overwrite (or, on a failure, uninstall) an agent that is already there
      if ((await session.run('test', ['-e', REMOTE.bundle], { allowFail: true })).code === 0) {
        throw new FleetnetError('conflict', `${host} already has a fleetnet agent installed (${REMOTE.bundle})`, { hint: `remove it first: fleetnet host rm ${host} --purge --ssh ${req.ssh.user}@${req.ssh.addr}` });
      }
      const facts = await gatherFacts(session);
      const missing = missingPrereqs(facts, { needOvs: req.needOvs ?? false });
      if (missing.length) {
        throw new FleetnetError('unsupported', `${host} lacks: ${missing.map((m) => m.what).join(', ')}`, { hint: missing.map((m) => m.fix).join('; ') });
      }
      return { facts, runtime: planRuntime(facts, localRuntime()) };
    }, ({ facts, runtime }) => `${facts.arch}, kernel ${facts.kernel}, ${runtime.ship ? `Node.js to ship (${runtime.reason})` : `Node.js ${facts.node?.version}`}, ${facts.systemd ? 'systemd' : 'no systemd'}`);
    const settings: AgentSettings = { hostId: host, listen: agentAddr, controller: req.controller };
    undo.push('uninstall', () => uninstall(session, facts.systemd));
    await step('upload', async () => {
      await makeDirs(session);
      await session.putFile(localBundle(), REMOTE.bundle);
      for (const s of DEPLOY_SCRIPTS) await session.putFile(localDeployScript(s), `${REMOTE.deploy}/${s}`);
      await session.run('chmod', ['0755', ...DEPLOY_SCRIPTS.map((s) => `${REMOTE.deploy}/${s}`)]);
      if (runtime.ship) {
        await session.putFile(process.execPath, REMOTE.node);
        await session.run('chmod', ['0755', REMOTE.node]);
      } else await linkHostNode(session, runtime.nodePath);
      // In-process netlink (no exec per attach) needs native code built for the host's CPU.
      const native = ARCH_OF[facts.arch] === process.arch ? localNativeArchive() : undefined;
      if (native) {
        await session.putFile(native, `${REMOTE.root}/native.tar.gz`);
        await unpackNative(session, `${REMOTE.root}/native.tar.gz`);
      }
      return native ? 'netlink' : 'ip -batch';
    }, (attachPath) => `${runtime.ship ? `agent bundle and Node.js ${process.version}` : 'agent bundle'}; attaches by ${attachPath === 'netlink' ? 'in-process netlink' : 'ip -batch (no native modules for this CPU here)'}`);
    await step('configure', async () => {
      const { token } = await d.trust.tokens.issue(host, d.tokenTtlMs);
      // whatever the agent enrolls with is revoked again if the bootstrap does not complete
      const before = new Set(d.trust.issued.list(host).map((r) => r.serial));
      undo.push('revoke', async () => {
        for (const r of d.trust.issued.list(host)) if (!before.has(r.serial)) d.trust.revocations.revoke({ serial: r.serial, name: host, reason: 'bootstrap failed' });
      });
      await writeAgentConfig(session, settings, d.trust.ca.certPem, token);
    }, () => 'CA, single-use join token, agent.env');
    await step('start', () => (facts.systemd ? startWithSystemd(session) : startSupervised(session, settings)), () => (facts.systemd ? 'systemd unit fleetnet-agent.service' : 'fleetnet supervisor'));
    await step('register', async () => {
      await waitForAgent(agentAddr, host, d.trust, d.registerTimeoutMs ?? 60_000);
      await d.registry?.register({ name: host, agentAddr, underlayIp: req.ssh.addr });
    }, () => `enrolled; answers over mTLS at ${agentAddr}`);
    undo.clear();
    return { host, fingerprint: ssh.hostKey.fingerprint, pinnedNow: ssh.hostKey.pinnedNow, runtime: runtime.ship ? 'shipped' : 'host', supervisor: facts.systemd ? 'systemd' : 'fleetnet', agentAddr };
  } catch (err) {
    d.progress?.({ host, step: current, state: 'failed', detail: err instanceof Error ? err.message : String(err) });
    await undo.unwind(d.log);
    throw err;
  } finally {
    ssh?.dispose();
  }
}
