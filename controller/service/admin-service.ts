// gRPC handlers of the Admin service: the fleet operations that need the CA (join tokens, waiting
// for an enrollment, rotation, revocation, CLI credentials and their revocation), for a CLI
// certificate only (see ADMIN_POLICY). SSH never runs here: the CLI installs agents with the
// operator's own keys.
import { X509Certificate } from 'node:crypto';
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { FleetnetError, invalid, notFound } from '../../common/errors.js';
import type { Rule } from '../../common/pki/authorize.js';
import { identityOfPeer, normalizeSerial, parseCliUser, parseHostId, parseSerial } from '../../common/pki/identity.js';
import { unary } from '../../common/rpc/server.js';
import {
  ProbeAgentReply_State as Probe,
  type HostTokenRequest,
  type IssueClientCertRequest,
  type ProbeAgentRequest,
  type RevokeHostCertsRequest,
  type RevokeClientCertsRequest,
  type RevokeHostTokenRequest,
  type RotateHostCertRequest,
  type WaitHostEnrolledRequest,
} from '../../proto/gen/fleetnet/v1/admin.js';
import { probeAgent, waitForAgent, type AgentProbe } from '../bootstrap/agent-client.js';
import { rotateHostCert } from '../bootstrap/rotate.js';
import type { Trust } from '../pki/controller-dir.js';
import { parseAgentAddr } from '../../common/host-spec.js';
import { revokeHost } from '../pki/enrollment-service.js';
import { cliSubject, cliUserOf } from '../pki/issued-certs.js';
import type { Store } from '../store/store.js';

/** Every Admin RPC: a CLI (admin) certificate, never a host's or the controller's own. */
export const ADMIN_POLICY: Readonly<Record<string, Rule>> = Object.freeze(
  Object.fromEntries(
    [
      'HostToken',
      'RevokeHostToken',
      'WaitHostEnrolled',
      'ProbeAgent',
      'RotateHostCert',
      'RevokeHostCerts',
      'IssueClientCert',
      'RevokeClientCerts',
    ].map((m) => [`/fleetnet.v1.Admin/${m}`, { kind: 'roles', roles: ['cli'] } satisfies Rule]),
  ),
);

export interface AdminServiceDeps {
  /** Undefined: the controller runs without a CA (plain TCP); only ProbeAgent and RevokeHostCerts answer. */
  trust: Trust | undefined;
  store: Store;
  log: Logger;
  now?: () => number;
}

const PROBE_TIMEOUT_MS = 3000;
const PROBE_STATE: Record<AgentProbe, Probe> = {
  enrolled: Probe.ENROLLED,
  revoked: Probe.REVOKED,
  open: Probe.OPEN,
  'not-enrolled': Probe.NOT_ENROLLED,
  unreachable: Probe.UNREACHABLE,
};
const userName = parseCliUser;

/**
 * A serial given to cli-revoke USER: it must be USER's, or on no record at all (a credential made by an
 * older fleetnet, which kept no serials). One on record for someone else, a host, or the controller's own
 * or the CA's certificate is refused, naming whose it is: a typo must not revoke what keeps the fleet up.
 */
function cliSerialOf(trust: Trust, user: string, serial: string): { serial: string; unrecorded: boolean } {
  const wrong = (whose: string, hint: string) =>
    invalid(`serial ${serial} is not a CLI credential of ${user}: it is ${whose}`, hint);
  const own = [trust.controllerCredential().certPem, trust.ca.certPem];
  if (own.some((pem) => normalizeSerial(new X509Certificate(pem).serialNumber) === serial))
    throw wrong("the controller's own certificate", 'check the serial: openssl x509 -noout -serial -in cli.crt');
  const owner = trust.issued.ownerOf(serial);
  if (owner === undefined) return { serial, unrecorded: true };
  if (owner === cliSubject(user)) return { serial, unrecorded: false };
  const other = cliUserOf(owner);
  if (other !== undefined)
    throw wrong(
      `CLI user ${other}'s`,
      `revoke it as theirs: fleetnet controller cli-revoke ${other} --serial ${serial}`,
    );
  throw wrong(
    `host ${owner}'s certificate`,
    `a host's certificates are revoked by fleetnet host rotate-cert ${owner} (its current one) or host rm ${owner}`,
  );
}

export function adminService(d: AdminServiceDeps): UntypedServiceImplementation {
  const { store, log } = d;
  const now = d.now ?? Date.now;
  const needTrust = (what: string): Trust => {
    if (d.trust) return d.trust;
    const why = `${what} needs the controller's CA, and this controller runs without one (plain TCP)`;
    throw new FleetnetError('unsupported', why, {
      hint: "run fleetnet controller init on the controller's machine, then restart it",
    });
  };
  const agentAddrOf = async (host: string, given: string): Promise<string> => {
    if (given) return given;
    const h = await store.read((tx) => tx.getHost(host));
    if (!h) {
      throw notFound(
        `host ${host} is not registered and no agent address was given`,
        'register it (fleetnet host add) or pass --addr ADDR:PORT',
      );
    }
    return h.agentAddr;
  };

  return {
    hostToken: unary(log, 'HostToken', async (r: HostTokenRequest) => {
      const trust = needTrust('a join token');
      const host = parseHostId(r.hostId);
      if (r.ttlMs < 0) throw invalid(`join token lifetime ${r.ttlMs} ms is negative`, 'give a lifetime like 15m or 1h');
      const issuedAtUnixMs = now();
      const { token, expiresAtMs } = await trust.tokens.issue(host, r.ttlMs || undefined);
      log.info({ host, expiresAtMs }, 'join token issued'); // never the token itself
      return { token, hostId: host, expiresAtUnixMs: expiresAtMs, issuedAtUnixMs, caPem: trust.ca.certPem };
    }),
    revokeHostToken: unary(log, 'RevokeHostToken', async (r: RevokeHostTokenRequest) => {
      const revoked = await needTrust('a join token').tokens.drop(r.token);
      log.info({ revoked }, 'join token revoked'); // never the token itself
      return { revoked };
    }),
    waitHostEnrolled: unary(log, 'WaitHostEnrolled', async (r: WaitHostEnrolledRequest, ctx) => {
      const trust = needTrust('waiting for an enrollment');
      const host = parseHostId(r.hostId);
      if (!r.agentAddr) throw invalid("WaitHostEnrolled needs the agent's address");
      const leftMs = Math.min(r.timeoutMs || 60_000, ctx.deadlineMs - now() - 200);
      await waitForAgent(r.agentAddr, host, trust, Math.max(leftMs, 0), ctx.signal);
      const serial = trust.issued.list(host).at(-1)?.serial ?? '';
      return { serial };
    }),
    probeAgent: unary(log, 'ProbeAgent', async (r: ProbeAgentRequest, ctx) => {
      const host = parseHostId(r.hostId);
      const addr = parseAgentAddr(r.agentAddr).addr; // as AddHost will record it
      if (!d.trust) return { state: Probe.NO_CA, detail: 'this controller has no CA' };
      const { state, detail } = await probeAgent(addr, host, d.trust, PROBE_TIMEOUT_MS, ctx.signal);
      return { state: PROBE_STATE[state], detail };
    }),
    rotateHostCert: unary(log, 'RotateHostCert', async (r: RotateHostCertRequest) => {
      const trust = needTrust('certificate rotation');
      const host = parseHostId(r.hostId);
      const reply = await rotateHostCert(trust, host, await agentAddrOf(host, r.agentAddr));
      log.info({ host, old: reply.oldSerial, serial: reply.newSerial }, 'host certificate rotated');
      return { oldSerial: reply.oldSerial, newSerial: reply.newSerial, notAfterUnixMs: reply.notAfterUnixMs };
    }),
    revokeHostCerts: unary(log, 'RevokeHostCerts', async (r: RevokeHostCertsRequest) => {
      const host = parseHostId(r.hostId);
      if (!d.trust) return { serials: [], hasCa: false };
      const reason = r.reason || 'revoked by an administrator';
      const serials = r.issuedSinceUnixMs
        ? d.trust.issued
            .list(host)
            .filter((c) => c.atMs >= r.issuedSinceUnixMs)
            .map((c) => c.serial)
        : revokeHost(d.trust, host, reason);
      if (r.issuedSinceUnixMs) for (const serial of serials) d.trust.revocations.revoke({ serial, name: host, reason });
      if (r.forget) d.trust.issued.forget(host);
      log.info({ host, serials, reason }, 'host certificates revoked');
      return { serials, hasCa: true };
    }),
    issueClientCert: unary(log, 'IssueClientCert', async (r: IssueClientCertRequest) => {
      const trust = needTrust('a CLI credential');
      const user = userName(r.user);
      const validityMs = trust.settings.cliCertValidityMs;
      const c = await trust.ca.issueFromCsr(r.csrPem, { role: 'cli', name: user, validityMs });
      trust.issued.record(cliSubject(user), { serial: c.serial, notAfterMs: c.notAfterMs, atMs: now() });
      log.info({ user, serial: c.serial }, 'CLI credential issued');
      return { certPem: c.certPem, caPem: trust.ca.certPem, serial: c.serial, notAfterUnixMs: c.notAfterMs };
    }),
    revokeClientCerts: unary(log, 'RevokeClientCerts', async (r: RevokeClientCertsRequest, _ctx, call) => {
      const trust = needTrust('revoking a CLI credential');
      const user = userName(r.user);
      const one = r.serial ? cliSerialOf(trust, user, parseSerial(r.serial)) : undefined;
      const serials = one ? [one.serial] : trust.issued.list(cliSubject(user)).map((c) => c.serial);
      if (!serials.length) {
        throw notFound(
          `no CLI credential issued to ${user} is on record`,
          'revoke one by its serial: fleetnet controller cli-revoke USER --serial SERIAL ' +
            '(openssl x509 -noout -serial -in cli.crt prints it)',
        );
      }
      // the interceptor let a CLI certificate through: never revoke the one this call is made with
      const caller = call.getAuthContext()?.sslPeerCertificate;
      const own = caller?.raw ? identityOfPeer(caller).serial : undefined;
      if (own && serials.includes(own)) {
        throw new FleetnetError('conflict', `${user}'s credential ${own} is the one this CLI uses: not revoked`, {
          hint: 'revoke it with another CLI credential (make one first: fleetnet controller cli-cert NAME --out DIR)',
        });
      }
      const reason = r.reason || 'revoked by an administrator';
      for (const serial of serials) trust.revocations.revoke({ serial, name: user, reason });
      log.info({ user, serials, reason, unrecorded: one?.unrecorded }, 'CLI credentials revoked');
      return { serials, unrecorded: one?.unrecorded ?? false };
    }),
  };
}
