// A controller's port as an agent meets it, with no services behind it (a TLS handshake is all that is tried):
// grpc-js serving TLS with a test fleet's controller certificate, and another fleet beside it whose CA did not sign
// that certificate; or plain TCP.
import type { TestContext } from 'node:test';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { CONTROLLER_NAME } from '../../common/pki/identity.js';
import { CredentialProvider, serverCredentials } from '../../common/pki/tls.js';
import { bindServer } from '../../common/rpc/server.js';
import { makeTestFleet, type TestFleet } from './pki.js';

/** The fleet's controller at addr (127.0.0.1:port), and `other`: a fleet whose CA did not sign its certificate. */
export async function foreignController(t: TestContext): Promise<{ fleet: TestFleet; other: TestFleet; addr: string }> {
  const [fleet, other] = await Promise.all([makeTestFleet(), makeTestFleet()]);
  t.after(() => (fleet.cleanup(), other.cleanup()));
  const server = new Server();
  const creds = serverCredentials(new CredentialProvider(await fleet.cred('controller', CONTROLLER_NAME)));
  const port = await bindServer(server, '127.0.0.1:0', creds);
  t.after(() => server.forceShutdown());
  return { fleet, other, addr: `127.0.0.1:${port}` };
}

/** A controller without a CA: plain TCP (what `controller run` serves until `controller init` made one). */
export async function plainController(t: TestContext): Promise<string> {
  const server = new Server();
  const port = await bindServer(server, '127.0.0.1:0', ServerCredentials.createInsecure());
  t.after(() => server.forceShutdown());
  return `127.0.0.1:${port}`;
}
