// Enrollment from the agent's side: make a key, send a CSR with the join token to the
// controller (verified against the CA the bootstrap installed: the token never goes to an
// impostor), keep the certificate. Renewal is the same with the current certificate.
import { Metadata } from '@grpc/grpc-js';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import type { Logger } from 'pino';
import { FleetnetError } from '../../common/errors.js';
import { connectFirstLive } from '../../common/rpc/failover.js';
import { fromServiceError } from '../../common/rpc/status.js';
import { CONTROLLER_NAME, parseHostId } from '../../common/pki/identity.js';
import { generateKeyPair, makeCsr, privateKeyPem } from '../../common/pki/keys.js';
import { clientCredentials, expectServerName, type Credential } from '../../common/pki/tls.js';
import { type EnrollReply } from '../../proto/gen/fleetnet/v1/enroll.js';
import { loadAgentCredential, saveAgentCredential, savedControllerAddr, type AgentTlsFiles } from './credentials.js';
import { EnrollmentClient } from '../../common/rpc/services.js';

export interface EnrollSettings {
  hostId: string;
  /** ADDR:PORT of the controller, or several controllers' comma-separated (the first that answers is used). */
  controller: string;
  /** The fleet CA to pin (installed by the bootstrap). */
  caFile: string;
  /** Holds the single-use join token; removed once used. */
  joinTokenFile: string;
}

/** Enrollment settings from the agent's config: only when a controller is named. */
export function enrollSettings(cfg: {
  controller?: string | undefined;
  hostName?: string | undefined;
  caFile: string;
  joinTokenFile: string;
}): EnrollSettings | undefined {
  if (!cfg.controller) return undefined;
  if (!cfg.hostName)
    throw new FleetnetError('invalid', '--controller needs --host-name (the host id the join token was made for)', {
      hint: 'add --host-name h3',
    });
  return { hostId: cfg.hostName, controller: cfg.controller, caFile: cfg.caFile, joinTokenFile: cfg.joinTokenFile };
}

/**
 * A join token the controller refused (used, expired, made for another host) is bad input to this
 * agent: exit 2, the token's problem named, nothing started; the controller's hint says what to do.
 */
function tokenProblem(e: FleetnetError): FleetnetError {
  if (e.kind !== 'permission' || !e.message.includes('join token refused')) return e;
  const hint =
    e.hint ?? 'ask for a new one where the CLI runs: fleetnet host token HOST (then point --join-token-file at it)';
  return new FleetnetError('invalid', e.message, { cause: e, hint });
}

function call(client: EnrollmentClient, fn: 'enroll' | 'renew', req: object, timeoutMs: number): Promise<EnrollReply> {
  return new Promise((resolve, reject) => {
    const cb = (err: unknown, res: EnrollReply) =>
      err ? reject(tokenProblem(fromServiceError(err, 'the controller'))) : resolve(res);
    const deadline = { deadline: Date.now() + timeoutMs };
    if (fn === 'enroll') client.enroll(req as never, new Metadata(), deadline, cb);
    else client.renew(req as never, new Metadata(), deadline, cb);
  });
}

async function newKeyAndCsr(hostId: string): Promise<{ keyPem: string; csrPem: string }> {
  const keys = await generateKeyPair();
  return { keyPem: await privateKeyPem(keys.privateKey), csrPem: await makeCsr(keys, hostId) };
}

/** One enrollment attempt. Permission errors (bad token) are final; others may be retried. */
export async function enrollOnce(s: EnrollSettings, files: AgentTlsFiles, timeoutMs = 10_000): Promise<Credential> {
  const hostId = parseHostId(s.hostId);
  if (!existsSync(s.joinTokenFile))
    throw new FleetnetError('not_found', `no join token at ${s.joinTokenFile}`, {
      hint: 'bootstrap the host again: fleetnet host add',
    });
  const caPem = readFileSync(s.caFile, 'utf8');
  const joinToken = readFileSync(s.joinTokenFile, 'utf8').trim();
  const { keyPem, csrPem } = await newKeyAndCsr(hostId);
  const { client } = await connectFirstLive(
    s.controller,
    (a) => new EnrollmentClient(a, clientCredentials(caPem), expectServerName(CONTROLLER_NAME)),
    timeoutMs,
    '--controller',
    { caFile: s.caFile },
  );
  try {
    const reply = await call(client, 'enroll', { joinToken, hostId, csrPem }, timeoutMs);
    if (reply.caPem.trim() !== caPem.trim())
      throw new FleetnetError('permission', 'the controller answered with a different CA than the one pinned', {
        hint: 'check which controller this host was bootstrapped from',
      });
    const cred = { keyPem, certPem: reply.certPem, caPem };
    saveAgentCredential(files, cred, s.controller);
    rmSync(s.joinTokenFile, { force: true }); // used up either way
    return cred;
  } finally {
    client.close();
  }
}

/** Enrolls unless a credential exists; retries while the controller is unreachable (bounded). */
export async function ensureEnrolled(
  s: EnrollSettings | undefined,
  files: AgentTlsFiles,
  log: Logger,
  attempts = 60,
): Promise<Credential | undefined> {
  const have = loadAgentCredential(files);
  if (have || !s) return have;
  for (let i = 1; ; i++) {
    try {
      const cred = await enrollOnce(s, files);
      log.info({ hostId: s.hostId, controller: s.controller }, 'enrolled: certificate issued and CA pinned');
      return cred;
    } catch (err) {
      const final = err instanceof FleetnetError && err.kind !== 'unavailable';
      if (final || i >= attempts) throw err;
      log.warn({ attempt: i, err: (err as Error).message }, 'enrollment failed, retrying');
      await new Promise((r) => setTimeout(r, Math.min(500 * i, 5000)));
    }
  }
}

/** A new key and certificate from the controller, asked with the current certificate. */
export async function renewCredential(
  hostId: string,
  current: Credential,
  files: AgentTlsFiles,
  timeoutMs = 10_000,
): Promise<{ cred: Credential; reply: EnrollReply }> {
  const addr = savedControllerAddr(files);
  if (!addr)
    throw new FleetnetError('unsupported', 'this agent does not know its controller', {
      hint: 'enroll it through fleetnet host add',
    });
  const { keyPem, csrPem } = await newKeyAndCsr(hostId);
  const { client } = await connectFirstLive(
    addr,
    (a) => new EnrollmentClient(a, clientCredentials(current.caPem, current), expectServerName(CONTROLLER_NAME)),
    timeoutMs,
    'the controller this agent enrolled with',
    { caFile: files.ca },
  );
  try {
    const reply = await call(client, 'renew', { hostId, csrPem }, timeoutMs);
    const cred = { keyPem, certPem: reply.certPem, caPem: current.caPem };
    saveAgentCredential(files, cred);
    return { cred, reply };
  } finally {
    client.close();
  }
}
