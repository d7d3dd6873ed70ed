// The etcd client (the `etcd3` package: see the README's "HA controllers on etcd" for why this
// one) made from validated options, and the mapping of its errors to fleetnet's.
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { Etcd3, EtcdError, GRPCGenericError, type CallContext } from 'etcd3';
import { FleetnetError, invalid } from '../../../common/errors.js';

export interface EtcdOptions {
  urls: string[];
  ca?: string;
  cert?: string;
  key?: string;
  /** Every key of this fleet starts with it (default `/fleetnet/`). */
  prefix?: string;
  /** Deadline of each unary call (a watch has none). */
  callTimeoutMs?: number;
}

/** The largest message etcd sends and its Go client accepts (math.MaxInt32). */
const MAX_MESSAGE_BYTES = 2 ** 31 - 1;

/** `--etcd http://a:2379,https://b:2379`: each a URL with a scheme, a host and a port. */
export function parseEtcdUrls(text: string): string[] {
  const urls = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!urls.length)
    throw invalid('--etcd needs at least one URL', 'e.g. --etcd http://10.0.0.1:2379,http://10.0.0.2:2379');
  for (const u of urls) {
    let p: URL;
    try {
      p = new URL(u);
    } catch {
      throw invalid(`--etcd: '${u}' is not a URL`, 'give scheme, host and port: http://10.0.0.1:2379');
    }
    if (p.protocol !== 'http:' && p.protocol !== 'https:')
      throw invalid(
        `--etcd: '${u}' must start with http:// or https://`,
        'etcd client URLs look like http://10.0.0.1:2379',
      );
    if (!p.port || (p.pathname !== '/' && p.pathname !== '') || p.search || p.username) {
      throw invalid(`--etcd: '${u}' must be scheme://host:port and nothing else`, 'e.g. https://10.0.0.1:2379');
    }
  }
  const schemes = new Set(urls.map((u) => new URL(u).protocol));
  if (schemes.size > 1)
    throw invalid(
      '--etcd mixes http:// and https:// URLs',
      'one cluster speaks one of them: use the same scheme for every member',
    );
  return urls;
}

function pem(path: string | undefined, flag: string, kind: RegExp): Buffer | undefined {
  if (path === undefined) return undefined;
  let b: Buffer;
  try {
    b = readFileSync(path);
  } catch (err) {
    throw new FleetnetError('invalid', `${flag} ${path} cannot be read`, {
      cause: err,
      hint: `give a readable PEM file: ${flag} FILE`,
    });
  }
  if (!kind.test(b.toString('latin1')))
    throw invalid(
      `${flag} ${path} is not a PEM ${flag === '--etcd-key' ? 'private key' : 'certificate'}`,
      `give the PEM file etcd's client TLS uses (${flag})`,
    );
  return b;
}

/** How often the client pings etcd on a connection with calls or watches in flight. */
export const KEEPALIVE_MS = 10_000;

/** The client, or exit-2 errors for bad flags (nothing contacted yet). */
export function etcdClient(o: EtcdOptions): Etcd3 {
  const https = o.urls.some((u) => u.startsWith('https:'));
  const ca = pem(o.ca, '--etcd-ca', /-----BEGIN CERTIFICATE-----/);
  const cert = pem(o.cert, '--etcd-cert', /-----BEGIN CERTIFICATE-----/);
  const key = pem(o.key, '--etcd-key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/);
  if (!cert !== !key)
    throw invalid(
      '--etcd-cert and --etcd-key go together',
      'give both (etcd client certificate authentication) or neither',
    );
  if (!https && (ca || cert))
    throw invalid('--etcd-ca/--etcd-cert/--etcd-key need https:// etcd URLs', 'write the URLs as https://HOST:2379');
  const timeout = o.callTimeoutMs ?? 5000;
  return new Etcd3({
    hosts: o.urls,
    dialTimeout: timeout,
    // A watch that catches up gets up to 1,000 revisions in one message (100k records rewritten:
    // ~100 MB), far over gRPC's default 4 MiB: refused, the watch would restart on the same batch
    // forever. etcd sends up to 2 GiB, and its own Go client receives as much (MaxCallRecvMsgSize).
    // Keepalive pings: an etcd that stops answering while its TCP connection looks open (a partition that drops
    // packets, a frozen member) fails the connection within ~15 s, so the watch is known down and reads are
    // refused, not served from a copy that no longer follows etcd. 10 s: etcd refuses pings more often than its
    // --grpc-keepalive-min-time (5 s by default).
    grpcOptions: {
      'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
      'grpc.keepalive_time_ms': KEEPALIVE_MS,
      'grpc.keepalive_timeout_ms': 5000,
    },
    ...(https
      ? {
          credentials: {
            rootCertificate: ca ?? Buffer.from(rootCertificates.join('\n')),
            ...(key ? { privateKey: key, certChain: cert! } : {}),
          },
        }
      : {}),
    defaultCallOptions: (ctx: CallContext) => (ctx.isStream ? {} : { deadline: Date.now() + timeout }),
  });
}

/** Is this an error of the etcd client (not of fleetnet's own logic)? */
export function isEtcdError(err: unknown): boolean {
  return err instanceof GRPCGenericError || err instanceof EtcdError;
}

/**
 * The etcd client held the call back without sending it: its circuit breaker (one per member: open for 5 s
 * after three failed calls in a row) was open for every member. etcd3 passes cockatiel's BrokenCircuitError
 * on as it is, and it carries this mark.
 */
export const heldBack = (err: unknown): boolean =>
  (err as { isBrokenCircuitError?: unknown } | null)?.isBrokenCircuitError === true;

/** What became of a change the client held back: it never left this controller. */
export const NOT_SENT = 'nothing was sent, so nothing was changed';

/** `outcome`: what became of the request that met it (e.g. "nothing was changed"), when there was one. */
export function storeUnavailable(urls: string[], err: unknown, outcome?: string): FleetnetError {
  const why = err instanceof Error ? err.message : String(err);
  const state = heldBack(err)
    ? 'is not asked: its last calls failed, and the client sends nothing to it for 5 s (circuit breaker open)'
    : `did not answer: ${why}`;
  const what = `store unavailable: etcd (${urls.join(',')}) ${state}${outcome ? `; ${outcome}` : ''}`;
  const retry = outcome?.startsWith('this change may')
    ? '; then `fleetnet ls` shows whether it did, and sending the same request again is safe (it is applied once)'
    : outcome === NOT_SENT
      ? '; then send the same request again'
      : '';
  return new FleetnetError('unavailable', what, {
    cause: err,
    hint:
      'check that a majority of the etcd members runs and is reachable (etcdctl endpoint health); ' +
      `the controller resumes by itself when it answers${retry}`,
  });
}
