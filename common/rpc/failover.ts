// A grpc-js client on the first of several controller addresses that accepts a connection (the
// agent's side of several controllers; the CLI's is cli/client/grpc-h2.ts). Only the connection is
// tried in turn: a call is made once, on the connected client, so nothing is ever sent twice.
import { Client, credentials, Metadata, status } from '@grpc/grpc-js';
import { FleetnetError } from '../errors.js';
import { parseControllerList } from './controller-addresses.js';
import { notTlsWords, tlsFailure, TlsHandshakeError } from './tls-failure.js';

/** Where the CA trusted here comes from, for the fix of a controller whose certificate it did not sign. */
export interface TrustSource {
  caFile: string;
}

/** The first address (in order) whose client connects within its share of timeoutMs. */
export async function connectFirstLive<C extends Client>(
  addrs: string,
  make: (addr: string) => C,
  timeoutMs: number,
  from = 'the controller address',
  trust?: TrustSource,
): Promise<{ client: C; addr: string }> {
  const list = parseControllerList(addrs, from);
  const until = Date.now() + timeoutMs;
  const failures: { addr: string; why: string }[] = [];
  for (const [i, addr] of list.entries()) {
    const client = make(addr);
    // each address gets an equal share of what is left, so a dead first one cannot use it all
    const share = Math.max(1, Math.floor((until - Date.now()) / (list.length - i)));
    const err = await new Promise<Error | undefined>((resolve) =>
      client.waitForReady(Date.now() + share, (e) => resolve(e ?? undefined)),
    );
    const why = err && (await lastError(client));
    if (!err || why === undefined) return { client, addr };
    client.close();
    failures.push({ addr, why: why || err.message });
  }
  const cause = new Error(failures.map((f) => `${f.addr}: ${f.why}`).join('; '));
  const tls = await handshakeFailure(failures, trust, cause);
  if (tls) throw tls;
  throw new FleetnetError('unavailable', `no controller answers at ${list.join(', ')}`, {
    cause,
    hint: 'check that a controller runs at one of these addresses and that this host reaches it',
  });
}

/** How long the controller that answered not in TLS is given to answer in plain (handshakeFailure). */
const PLAIN_PROBE_MS = 2000;

/**
 * The peer answered, and the TLS handshake says why it is not this side's controller (waiting will not help): the
 * error that says so with its fix, or undefined. A handshake that met no TLS at all is said so only when a plain
 * (no TLS) connection to the same address is then taken: a controller without a CA, not some other service.
 */
async function handshakeFailure(
  failures: { addr: string; why: string }[],
  trust: TrustSource | undefined,
  cause: Error,
): Promise<TlsHandshakeError | undefined> {
  const caFile = trust?.caFile ?? 'the CA file';
  for (const f of failures) {
    const tls = tlsFailure(f.why);
    if (!tls) continue;
    const hint =
      tls.kind === 'ca'
        ? `the CA in ${caFile} is not the one that signed the controller's certificate ` +
          "(another fleet's, or an old one): put the fleet's CA there (fleetnet host token HOST --out DIR writes " +
          'it as ca.crt), or bootstrap the host again (fleetnet host add HOST --ssh ...)'
        : tls.kind === 'expired'
          ? "check the clocks of this host and of the controller's machine"
          : "check that the address is one of this fleet's controllers";
    return new TlsHandshakeError(tls, `the controller at ${f.addr}`, { cause, hint });
  }
  for (const f of failures) {
    const words = notTlsWords(f.why);
    if (!words || !(await answersPlain(f.addr, PLAIN_PROBE_MS))) continue;
    const hint =
      'give the controller a CA: on its machine fleetnet controller init, then restart it; put that CA in ' +
      `${caFile} (fleetnet host token HOST --out DIR writes it as ca.crt, with a join token), or bootstrap the ` +
      'host again (fleetnet host add HOST --ssh ...). A fleet kept on plain TCP (a lab): run the agent without ' +
      '--controller, with --insecure-tcp';
    return new TlsHandshakeError({ kind: 'plain', detail: words }, `the controller at ${f.addr}`, { cause, hint });
  }
  return undefined;
}

/** Whether a gRPC (HTTP/2) server takes a plain TCP connection at addr within ms. */
async function answersPlain(addr: string, ms: number): Promise<boolean> {
  const client = new Client(addr, credentials.createInsecure());
  try {
    return await new Promise<boolean>((resolve) => client.waitForReady(Date.now() + ms, (e) => resolve(!e)));
  } finally {
    client.close();
  }
}

/**
 * Why a client is not connected, in grpc-js's words: a call on a channel that failed to connect fails at once with
 * the channel's last error ("connect ECONNREFUSED", a TLS verification error); '' when it only timed out; undefined
 * when the call went through after all (connected meanwhile). The call is grpc.health.v1's Check: harmless.
 */
function lastError(client: Client, ms = 1000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const done = (err: { code: number; details: string } | null) => {
      if (!err || (err.code !== status.UNAVAILABLE && err.code !== status.DEADLINE_EXCEEDED)) return resolve(undefined);
      // OpenSSL's words end in a newline: the last error may span lines.
      resolve(/Last error: (.*?)\s*(?:\. Resolution note:|$)/s.exec(err.details)?.[1] ?? '');
    };
    const empty = () => Buffer.alloc(0);
    const call = { deadline: Date.now() + ms };
    client.makeUnaryRequest('/grpc.health.v1.Health/Check', empty, (b: Buffer) => b, {}, new Metadata(), call, done);
  });
}
