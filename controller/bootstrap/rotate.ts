// `fleetnet host rotate-cert`: the agent makes a new key and renews (its key never leaves the
// host); then the controller revokes the old serial and tells the agent nothing else.
import { parseHostId } from '../../common/pki/identity.js';
import type { Trust } from '../pki/controller-dir.js';
import { connectAgentTls } from './agent-client.js';

export async function rotateHostCert(
  trust: Trust,
  hostId: string,
  addr: string,
): Promise<{ oldSerial: string; newSerial: string; notAfterUnixMs: number }> {
  const id = parseHostId(hostId);
  const conn = connectAgentTls(addr, id, trust);
  try {
    const r = await conn.rotateCertificate(30_000);
    trust.revocations.revoke({ serial: r.oldSerial, name: id, reason: 'rotated' });
    return r;
  } finally {
    conn.close();
  }
}
