// `fleetnet host upgrade H`: this CLI's agent replaces the one on the host, over SSH with the
// operator's own keys. The host's settings (agent.env, agent.yaml), its certificate and its state
// folder stay as they are, and so do the attachments (an agent that stops leaves its links and
// DHCP clients in place; the new one adopts them). Done when the controller sees the agent answer
// over mTLS with the certificate it already had. A failed upgrade is not undone: the old files
// are gone by then; run it again (it is idempotent) or look at the agent's log.
import { FleetnetError } from '../../common/errors.js';
import { parseHostId } from '../../common/pki/identity.js';
import type { FleetAuthority } from './bootstrap.js';
import { readAgentSettings, REMOTE, restartAgent } from './install.js';
import { SshSession, type SshTarget } from './ssh-session.js';
import { stepper, type ProgressEvent } from './steps.js';
import { describePlan, planHost, uploadAgent } from './upload.js';

export interface UpgradeRequest {
  hostId: string;
  ssh: SshTarget;
  needOvs?: boolean;
}

export interface UpgradeResult {
  host: string;
  agentAddr: string;
  runtime: 'host' | 'shipped';
  supervisor: 'systemd' | 'fleetnet';
}

export interface UpgradeDeps {
  authority: Pick<FleetAuthority, 'waitEnrolled'>;
  progress?: (e: ProgressEvent) => void;
  registerTimeoutMs?: number;
}

export async function upgradeHost(req: UpgradeRequest, d: UpgradeDeps): Promise<UpgradeResult> {
  const host = parseHostId(req.hostId);
  const steps = stepper(host, d.progress);
  let ssh: SshSession | undefined;
  try {
    ssh = await steps.run(
      'connect',
      () => SshSession.connect(req.ssh),
      (s) => `host key verified ${s.hostKey.fingerprint}`,
    );
    const session = ssh;
    const { plan, settings } = await steps.run(
      'check',
      async () => {
        if ((await session.run('test', ['-e', REMOTE.bundle], { allowFail: true })).code !== 0) {
          const what = `${host} has no fleetnet agent installed (${REMOTE.bundle}): nothing to upgrade`;
          throw new FleetnetError('not_found', what, {
            hint: `install one: fleetnet host add ${host} --ssh ${req.ssh.user}@${req.ssh.addr}`,
          });
        }
        const settings = await readAgentSettings(session);
        if (settings.hostId !== host) {
          const what = `the agent at ${req.ssh.addr} is host ${settings.hostId}, not ${host}`;
          throw new FleetnetError('invalid', what, { hint: 'check the host name and --ssh address' });
        }
        return { plan: await planHost(session, host, { needOvs: req.needOvs ?? false }), settings };
      },
      ({ plan }) => describePlan(plan),
    );
    await steps.run(
      'upload',
      () => uploadAgent(session, plan),
      (said) => said,
    );
    await steps.run(
      'restart',
      () => restartAgent(session, plan.facts.systemd, settings),
      () => (plan.facts.systemd ? 'systemctl restart fleetnet-agent.service' : 'fleetnet supervisor restarted'),
    );
    await steps.run(
      'register',
      () => d.authority.waitEnrolled(host, settings.listen, d.registerTimeoutMs ?? 60_000),
      () => `answers over mTLS at ${settings.listen} with its certificate`,
    );
    return {
      host,
      agentAddr: settings.listen,
      runtime: plan.runtime.ship ? 'shipped' : 'host',
      supervisor: plan.facts.systemd ? 'systemd' : 'fleetnet',
    };
  } catch (err) {
    steps.failed(err);
    throw err;
  } finally {
    ssh?.dispose();
  }
}
