// The CNI plugin's side of a TLS handshake with the controller that fails: said as the agent and the CLI say it
// (common/rpc/tls-failure.ts), with the fix, as the spec's 50 (the plugin is not available: no ADD can be served
// until it is fixed), never as "the controller refused". A controller's own refusal keeps its words.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { GrpcFleetLink } from '../../cni/fleet-link-grpc.js';
import { parseNetConf } from '../../cni/netconf.js';
import { Reservations } from '../../cni/reservations.js';
import { CniCode, CniError } from '../../cni/spec.js';
import { silentLogger } from '../../common/logger.js';
import type { Credential } from '../../common/pki/tls.js';
import { foreignController, plainController } from '../helpers/grpc-controller.js';
import { makeTestFleet } from '../helpers/pki.js';

const conf = parseNetConf('fleetnet', { cniVersion: '1.1.0', name: 'blue', type: 'fleetnet', network: 'blue' });
const call = {
  plugin: 'fleetnet' as const,
  command: 'ADD',
  containerId: 'c1',
  netns: '/run/netns/x1',
  ifname: 'eth0',
  config: new Uint8Array(),
};

/** The agent's CNI link to the controller at addr, calling with cred (its CA kept in caFile). */
function link(t: TestContext, addr: string, cred: Credential, caFile: string, dir: string): GrpcFleetLink {
  const l = new GrpcFleetLink({
    controller: addr,
    hostName: 'h1',
    reservations: new Reservations(join(dir, 'cni')),
    credential: () => cred,
    caFile,
    log: silentLogger(),
    connectMs: 1500,
  });
  t.after(() => l.close());
  return l;
}

const notAvailable = (message: RegExp, hint: RegExp) => (e: unknown) => {
  assert.ok(e instanceof CniError, String(e));
  assert.equal(e.code, CniCode.notAvailable, e.message);
  assert.match(e.message, message);
  assert.doesNotMatch(e.message, /refused/);
  assert.match(e.details, hint);
  return true;
};

test("CNI with a CA that did not sign the controller's certificate: 50, the TLS handshake said as such", async (t) => {
  const { other, addr } = await foreignController(t);
  const caFile = join(other.dir, 'ca.crt');
  const cred = await other.cred('host', 'h1');
  writeFileSync(caFile, cred.caPem);
  const l = link(t, addr, cred, caFile, other.dir);
  const said = notAvailable(
    new RegExp(
      '^the TLS handshake with the controller at 127\\.0\\.0\\.1:\\d+ fails: certificate verify failed ' +
        '\\(self-signed certificate in certificate chain\\): its certificate is not signed by the CA trusted here$',
    ),
    new RegExp(`^the CA in ${caFile} is not the one that signed the controller's certificate .*fleetnet host add`),
  );
  await assert.rejects(l.add(conf, call, 'cni-1'), said);
  await assert.rejects(l.status(), said);
});

test('CNI with a credential, and a controller without TLS: 50, said so', async (t) => {
  const addr = await plainController(t);
  const fleet = await makeTestFleet();
  t.after(() => fleet.cleanup());
  const l = link(t, addr, await fleet.cred('host', 'h1'), join(fleet.dir, 'ca.crt'), fleet.dir);
  const said = notAvailable(/^the controller at 127\.0\.0\.1:\d+ does not speak TLS .*: it runs without a CA/, /init/);
  await assert.rejects(l.add(conf, call, 'cni-1'), said);
  await assert.rejects(l.status(), said);
});
