// `fleetnet host add NAME --ssh USER@ADDR`, run by the CLI with the operator's own SSH keys and
// known_hosts: connect (host key verified), check, upload the agent (and Node.js if needed),
// configure it with a join token the controller issued, start it, and wait until the controller
// sees it answer over mTLS with its new certificate. The CLI never holds the CA key: everything
// that needs it is an Admin call (`FleetAuthority`). If a later step fails, anything installed is
// removed again, the join token voided, whatever the agent enrolled with revoked and the host's
// registration taken back; an interrupt (Ctrl-C: `signal`) does the same after the SSH work in hand.
import type { Logger } from 'pino';
import { FleetnetError } from '../../common/errors.js';
import { parseHostId } from '../../common/pki/identity.js';
import { UndoStack } from '../../common/undo.js';
import { REMOTE, startSupervised, startWithSystemd, uninstall, writeAgentConfig } from './install.js';
import type { AgentSettings } from './install.js';
import { describePlan, planHost, uploadAgent } from './upload.js';
import { SshSession, type RemoteHost, type SshTarget } from './ssh-session.js';
import { stepper, type ProgressEvent, type Step } from './steps.js';

export interface BootstrapRequest {
  hostId: string;
  ssh: SshTarget;
  /** Agent listen address, default SSH address:7441. */
  listen?: string;
  /** The host's underlay IPv4 (its MACs carry it), default the SSH address. */
  underlay?: string;
  /** Where agents reach the controller (ADDR:PORT). */
  controller: string;
  needOvs?: boolean;
  /** The agent's settings file (validated already), installed as /etc/fleetnet/agent.yaml. */
  agentConfig?: string;
}

/** What the controller does for a bootstrap (Admin RPCs, see cli/client/admin.ts). */
export interface FleetAuthority {
  hostToken(hostId: string, ttlMs?: number): Promise<{ token: string; caPem: string; issuedAtUnixMs: number }>;
  /** Voids a join token not used yet (a bootstrap that did not complete). */
  dropToken(token: string): Promise<void>;
  waitEnrolled(hostId: string, agentAddr: string, timeoutMs: number): Promise<void>;
  /** Revokes what the host was issued since a time (a bootstrap that did not complete). */
  revokeSince(hostId: string, sinceUnixMs: number, reason: string): Promise<void>;
  /** Records the host in the controller's store; when that record was made (the controller's clock). */
  register(h: { name: string; agentAddr: string; underlayIp: string }): Promise<{ addedUnixMs: number }>;
  /** What follows a registration (host add --join: the meshes). */
  registered?(name: string): Promise<void>;
  /** Takes back a registration this bootstrap made. */
  unregister(name: string): Promise<void>;
}

export interface BootstrapDeps {
  authority: FleetAuthority;
  log: Logger;
  progress?: (e: ProgressEvent) => void;
  registerTimeoutMs?: number;
  tokenTtlMs?: number;
  /**
   * Aborted (Ctrl-C): no next step is begun and the waits (SSH connect, enrollment) end at once; a command
   * or upload in hand finishes first, so that nothing lands on the host after the undo.
   */
  signal?: AbortSignal;
  /** How the host is reached (tests: a fake). */
  connect?: (t: SshTarget) => Promise<RemoteHost>;
}

/** What each undo step of a bootstrap takes back, as an interrupt reports it. */
const UNDONE: Record<string, string> = {
  'drop token': 'join token voided',
  revoke: 'certificates issued since revoked',
  uninstall: 'agent uninstalled',
  unregister: 'registration taken back',
};

/** p, or a rejection as soon as `signal` aborts (p goes on: what it makes is undone by the caller). */
function unlessAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new FleetnetError('failed', 'interrupted'));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** The error of an interrupted bootstrap: where it stopped and what was taken back. */
function interrupted(host: string, at: Step | undefined, u: { done: string[]; failed: string[] }): FleetnetError {
  const say = (l: string[]) => l.map((w) => UNDONE[w] ?? w).join(', ');
  const undone = u.done.length ? `undone: ${say(u.done)}` : 'nothing was made yet';
  const left = u.failed.length ? `; NOT undone (see the warnings above): ${say(u.failed)}` : '';
  return new FleetnetError('failed', `${host}: interrupted${at ? ` at ${at}` : ''}; ${undone}${left}`, {
    hint: `check with fleetnet host ls, then run host add ${host} again`,
  });
}

export interface BootstrapResult {
  host: string;
  fingerprint: string;
  pinnedNow: boolean;
  runtime: 'host' | 'shipped';
  supervisor: 'systemd' | 'fleetnet';
  agentAddr: string;
}

/** The agent's TCP address when none is given: the SSH address, port 7441. */
export const defaultAgentAddr = (sshAddr: string) => `${sshAddr.includes(':') ? `[${sshAddr}]` : sshAddr}:7441`;

export async function bootstrapHost(req: BootstrapRequest, d: BootstrapDeps): Promise<BootstrapResult> {
  const host = parseHostId(req.hostId);
  const agentAddr = req.listen ?? defaultAgentAddr(req.ssh.addr);
  const steps = stepper(host, d.progress);
  const undo = new UndoStack();
  const stop = () => {
    if (d.signal?.aborted) throw new FleetnetError('failed', 'interrupted');
  };
  // an interrupt is honoured between steps: none begins after it
  const step: typeof steps.run = (s, fn, detail) => (stop(), steps.run(s, fn, detail));
  let ssh: RemoteHost | undefined;
  try {
    const { token, caPem, issuedAtUnixMs, session } = await step(
      'connect',
      async () => {
        // The token first: a controller that cannot issue one (no CA) stops this before the host is
        // touched. Only its hash is kept, by the controller; unused, it expires.
        const t = await d.authority.hostToken(host, d.tokenTtlMs);
        // whatever the agent enrolls with is revoked again if the bootstrap does not complete, and
        // the token goes first (newest first), so that nothing enrolls with it after that
        undo.push('revoke', () => d.authority.revokeSince(host, t.issuedAtUnixMs, 'bootstrap failed'));
        undo.push('drop token', () => d.authority.dropToken(t.token));
        stop();
        const connecting = (d.connect ?? ((t: SshTarget) => SshSession.connect(t)))(req.ssh);
        const late = (s: RemoteHost) => s.dispose(); // a session that arrives after the interrupt
        ssh = await unlessAborted(connecting, d.signal).catch((err: unknown) => {
          void connecting.then(late, () => undefined);
          throw err;
        });
        return { ...t, session: ssh };
      },
      ({ session: { hostKey: k } }) => `${k.pinnedNow ? 'pinned new host key' : 'host key verified'} ${k.fingerprint}`,
    );
    const plan = await step(
      'check',
      async () => {
        // never overwrite (or, on a failure, uninstall) an agent that is already there
        if ((await session.run('test', ['-e', REMOTE.bundle], { allowFail: true })).code === 0) {
          throw new FleetnetError('conflict', `${host} already has a fleetnet agent installed (${REMOTE.bundle})`, {
            hint:
              `upgrade it (fleetnet host upgrade ${host} --ssh ${req.ssh.user}@${req.ssh.addr}) ` +
              `or remove it first (fleetnet host rm ${host} --purge --ssh ...)`,
          });
        }
        return planHost(session, host, { needOvs: req.needOvs ?? false });
      },
      describePlan,
    );
    const { facts, runtime } = plan;
    const settings: AgentSettings = { hostId: host, listen: agentAddr, controller: req.controller };
    await step(
      'upload',
      () => (undo.push('uninstall', () => uninstall(session, facts.systemd)), uploadAgent(session, plan)),
      (said) => said,
    );
    await step(
      'configure',
      () => writeAgentConfig(session, settings, caPem, token, req.agentConfig),
      () => `CA, single-use join token, agent.env${req.agentConfig === undefined ? '' : `, ${REMOTE.agentConfig}`}`,
    );
    await step(
      'start',
      () => (facts.systemd ? startWithSystemd(session) : startSupervised(session, settings)),
      () => (facts.systemd ? 'systemd unit fleetnet-agent.service' : 'fleetnet supervisor'),
    );
    await step(
      'register',
      async () => {
        await unlessAborted(d.authority.waitEnrolled(host, agentAddr, d.registerTimeoutMs ?? 60_000), d.signal);
        stop();
        const rec = await d.authority.register({ name: host, agentAddr, underlayIp: req.underlay ?? req.ssh.addr });
        // made by this run (not the same record found again): taken back if what follows fails
        if (rec.addedUnixMs >= issuedAtUnixMs) undo.push('unregister', () => d.authority.unregister(host));
        stop();
        await d.authority.registered?.(host);
      },
      () => `enrolled; answers over mTLS at ${agentAddr}`,
    );
    undo.clear();
    const { fingerprint, pinnedNow } = session.hostKey;
    const supervisor = facts.systemd ? 'systemd' : 'fleetnet';
    return { host, fingerprint, pinnedNow, runtime: runtime.ship ? 'shipped' : 'host', supervisor, agentAddr };
  } catch (err) {
    if (!d.signal?.aborted) steps.failed(err);
    const undone = await undo.unwindSaying(d.log);
    if (!d.signal?.aborted) throw err;
    const e = interrupted(host, steps.current, undone);
    steps.failed(e);
    throw e;
  } finally {
    ssh?.dispose();
  }
}
