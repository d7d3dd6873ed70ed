// Host certificates are short-lived: the agent renews its own at two thirds of its lifetime
// (retrying every minute on failure), so a host never drops out because a certificate ran out.
import type { Logger } from 'pino';
import { CLOCK_SKEW_MS, identityOfPem } from '../../common/pki/identity.js';
import type { CredentialProvider } from '../../common/pki/tls.js';
import type { AgentTlsFiles } from './credentials.js';
import { renewCredential } from './enroll.js';

const MAX_TIMER_MS = 2 ** 31 - 1;

/** Two thirds into the lifetime counted from issuance (notBefore is back-dated by the clock skew). */
export function renewAtMs(certPem: string): number {
  const c = identityOfPem(certPem);
  const issued = c.notBeforeMs + CLOCK_SKEW_MS;
  return issued + ((c.notAfterMs - issued) * 2) / 3;
}

export function startAutoRenew(
  provider: CredentialProvider,
  files: AgentTlsFiles,
  log: Logger,
  retryMs = 60_000,
): { stop(): void } {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const schedule = (atMs: number) => {
    if (stopped) return;
    timer = setTimeout(tick, Math.min(Math.max(atMs - Date.now(), 0), MAX_TIMER_MS));
    timer.unref();
  };
  const tick = () => {
    const due = renewAtMs(provider.current.certPem);
    if (Date.now() < due) return schedule(due); // a long lifetime: the timer woke early
    const hostId = identityOfPem(provider.current.certPem).name;
    renewCredential(hostId, provider.current, files).then(
      ({ cred, reply }) => {
        provider.update(cred);
        log.info({ serial: reply.serial, notAfterMs: reply.notAfterUnixMs }, 'certificate renewed');
        schedule(renewAtMs(cred.certPem));
      },
      (err: unknown) => {
        log.warn(
          { err: err instanceof Error ? err.message : String(err), retryMs },
          'certificate renewal failed; retrying',
        );
        schedule(Date.now() + retryMs);
      },
    );
  };
  schedule(renewAtMs(provider.current.certPem));
  return {
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
