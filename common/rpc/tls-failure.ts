// Why a TLS handshake failed, read from the words Node's TLS (OpenSSL) puts in its error, so that a
// peer pinned to the wrong CA hears that, not "no controller answers". No grpc-js here: the CLI uses it.
import { FleetnetError } from '../errors.js';

export interface TlsFailure {
  /**
   * ca: the peer's certificate is not signed by the CA trusted here; expired: not valid now; name: another name's;
   * plain: the peer does not speak TLS at all (a controller without a CA serves plain TCP).
   */
  kind: 'ca' | 'expired' | 'name' | 'plain';
  /** OpenSSL's own words, e.g. "self-signed certificate in certificate chain". */
  detail: string;
}

const KINDS: [TlsFailure['kind'], RegExp][] = [
  ['ca', /self[- ]signed certificate( in certificate chain)?|certificate signature failure/i],
  ['ca', /unable to (get local issuer certificate|get issuer certificate|verify the first certificate)/i],
  ['expired', /certificate has expired|certificate is not yet valid/i],
  ['name', /Hostname\/IP does not match certificate's altnames[^.]*|does not match certificate's altnames/i],
];

/** The TLS verification failure an error's text tells of, or undefined. */
export function tlsFailure(text: string): TlsFailure | undefined {
  for (const [kind, re] of KINDS) {
    const m = re.exec(text);
    if (m) return { kind, detail: m[0] };
  }
  return undefined;
}

/**
 * The words of a TLS handshake whose peer answered with something that is not TLS (OpenSSL reads plain bytes as a
 * record of a wrong version) or hung up before answering at all; undefined for any other failure. Not proof by
 * itself that the peer speaks plain gRPC (another service, a reset): whoever says so asks the peer in plain first.
 */
export function notTlsWords(text: string): string | undefined {
  return /wrong version number|packet length too long|disconnected before secure TLS connection was established/i.exec(
    text,
  )?.[0];
}

/** What the failure means, for a message about `peer`: "certificate verify failed (…)" and why, or no TLS at all. */
export function tlsFailureText(f: TlsFailure, peer: string): string {
  if (f.kind === 'plain')
    return `${peer} does not speak TLS (the TLS handshake fails: ${f.detail}): it runs without a CA, on plain TCP`;
  const what =
    f.kind === 'ca'
      ? `its certificate is not signed by the CA trusted here`
      : f.kind === 'expired'
        ? 'its certificate is outside its validity (or this clock is)'
        : 'its certificate is made out for another name';
  return `the TLS handshake with ${peer} fails: certificate verify failed (${f.detail}): ${what}`;
}

/**
 * A TLS handshake that fails for a reason waiting will not mend (kind permission: not retried as a peer that does not
 * answer), said with tlsFailureText. Its own class, so that an edge can tell it from a peer's refusal (the CNI plugin
 * answers it as "not available", not as the controller refusing a request).
 */
export class TlsHandshakeError extends FleetnetError {
  constructor(
    readonly failure: TlsFailure,
    peer: string,
    o: { hint: string; cause?: unknown },
  ) {
    super('permission', tlsFailureText(failure, peer), o);
    this.name = 'TlsHandshakeError';
  }
}
