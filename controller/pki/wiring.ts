// What the controller's composition root (issue 5) needs from the PKI, in one place:
//   const trust = await openTrustIfInitialised(cfg.trustDir);          // undefined: plain TCP as before
//   server: startControllerEndpoint({ trust, listen, log, services: [{ def: ControllerService, impl }], configure })
//   agent links: const { creds, options } = agentChannel(trust, host.name)   // mTLS, host name and revocation checked
import type { ChannelCredentials, ChannelOptions } from '@grpc/grpc-js';
import { credentials } from '@grpc/grpc-js';
import { parseHostId } from '../../common/pki/identity.js';
import { clientCredentials, expectServerName } from '../../common/pki/tls.js';
import { CertificateAuthority } from './ca.js';
import { openTrust, type Trust } from './controller-dir.js';

export async function openTrustIfInitialised(dir: string): Promise<Trust | undefined> {
  return CertificateAuthority.exists(dir) ? openTrust(dir) : undefined;
}

/**
 * Credentials for the controller's connection to one agent; plain TCP when there is no trust folder.
 * onRevoked hears the serial of an agent certificate refused as revoked (ProbeAgent names it).
 */
export function agentChannel(
  trust: Trust | undefined,
  hostName: string,
  onRevoked?: (serial: string) => void,
): { creds: ChannelCredentials; options: ChannelOptions } {
  if (!trust) return { creds: credentials.createInsecure(), options: {} };
  const isRevoked = (s: string) => {
    const revoked = trust.revocations.isRevoked(s);
    if (revoked) onRevoked?.(s);
    return revoked;
  };
  return {
    creds: clientCredentials(trust.ca.certPem, trust.controllerCredential(), isRevoked),
    options: expectServerName(parseHostId(hostName)),
  };
}
