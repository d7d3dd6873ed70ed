// A TLS handshake that fails is said as such, with its fix, never as "no controller answers": an agent
// pinned to another CA than the one that signed its controller's certificate; the CLI with
// FLEETNET_INSECURE=1 against a controller that wants mutual TLS, or with another fleet's credential.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createSecureServer } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { ensureEnrolled } from '../../agent/trust/enroll.js';
import { agentTlsFiles } from '../../agent/trust/credentials.js';
import { connectController } from '../../cli/client/controller.js';
import { FleetnetError } from '../../common/errors.js';
import { silentLogger } from '../../common/logger.js';
import { CONTROLLER_NAME } from '../../common/pki/identity.js';
import { foreignController, plainController } from '../helpers/grpc-controller.js';
import { makeTestFleet } from '../helpers/pki.js';

/** Sets environment variables for this test; they are as they were after it. */
function withEnv(t: TestContext, vars: Record<string, string | undefined>): void {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const put = (v: Record<string, string | undefined>) => {
    for (const [k, x] of Object.entries(v)) {
      if (x === undefined) delete process.env[k];
      else process.env[k] = x;
    }
  };
  put(vars);
  t.after(() => put(saved));
}

/** A fleet (its controller serving mutual TLS over node:http2, as the CLI meets it) and another fleet's CA. */
async function mtlsController(t: TestContext) {
  const [fleet, other] = await Promise.all([makeTestFleet(), makeTestFleet()]);
  const c = await fleet.cred('controller', CONTROLLER_NAME);
  const srv = createSecureServer({ key: c.keyPem, cert: c.certPem, ca: c.caPem, requestCert: true });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  t.after(() => (srv.close(), fleet.cleanup(), other.cleanup()));
  return { fleet, other, addr: `127.0.0.1:${(srv.address() as AddressInfo).port}` };
}

/** The CLI's connection to addr with a credential of `fleet` (alice's) in FLEETNET_TLS_DIR. */
async function connectWithCredential(t: TestContext, fleet: Awaited<ReturnType<typeof makeTestFleet>>, addr: string) {
  const dir = join(fleet.dir, 'cli');
  mkdirSync(dir);
  const cred = await fleet.cred('cli', 'alice');
  for (const [f, pem] of [
    ['ca.crt', cred.caPem],
    ['cli.crt', cred.certPem],
    ['cli.key', cred.keyPem],
  ] as const)
    writeFileSync(join(dir, f), pem);
  withEnv(t, { FLEETNET_INSECURE: undefined, FLEETNET_TLS_DIR: dir });
  return connectController(addr);
}

const refusedWith = (message: RegExp, hint: RegExp) => (e: unknown) => {
  assert.ok(e instanceof FleetnetError, String(e));
  assert.equal(e.kind, 'permission', e.message);
  assert.match(e.message, message);
  assert.match(e.hint ?? '', hint);
  return true;
};

test('the CLI with FLEETNET_INSECURE=1 against a mutual-TLS controller: it wants TLS and a credential', async (t) => {
  const { fleet, addr } = await mtlsController(t);
  const none = join(fleet.dir, 'none');
  withEnv(t, { FLEETNET_INSECURE: '1', FLEETNET_TLS_DIR: none, FLEETNET_CONTROLLER_DIR: none });
  const conn = connectController(addr);
  t.after(() => conn.close());
  await assert.rejects(
    conn.call(conn.client.listHosts, {}, 5000),
    refusedWith(
      /wants TLS and a client certificate \(mutual TLS\), and FLEETNET_INSECURE=1 has this CLI talk plain TCP/,
      /unset FLEETNET_INSECURE and give the CLI a credential: copy ca\.crt/,
    ),
  );
});

test("the CLI with another fleet's credential: its CA did not sign the controller's certificate", async (t) => {
  const { other, addr } = await mtlsController(t);
  const conn = await connectWithCredential(t, other, addr);
  t.after(() => conn.close());
  await assert.rejects(
    conn.call(conn.client.listHosts, {}, 5000),
    refusedWith(
      /TLS handshake with the controller at .* fails: certificate verify failed \(.+\): its certificate is not signed/,
      /credential is for another fleet/,
    ),
  );
});

test('the CLI with a credential against a controller without TLS: not "no controller answers"', async (t) => {
  const addr = await plainController(t);
  const fleet = await makeTestFleet();
  t.after(() => fleet.cleanup());
  const conn = await connectWithCredential(t, fleet, addr);
  t.after(() => conn.close());
  await assert.rejects(
    conn.call(conn.client.listHosts, {}, 5000),
    refusedWith(
      /answers at 127\.0\.0\.1:\d+, but not with TLS \(.+\): a controller without a CA/,
      /FLEETNET_INSECURE=1/,
    ),
  );
});

test('an agent pinned to another CA than its controller: the handshake fails, said once, with the fix', async (t) => {
  const { other, addr } = await foreignController(t);
  const caFile = join(other.dir, 'pinned-ca.crt');
  const joinTokenFile = join(other.dir, 'join-token');
  writeFileSync(caFile, (await other.cred('host', 'h1')).caPem);
  writeFileSync(joinTokenFile, 'token\n');
  const settings = { hostId: 'h1', controller: addr, caFile, joinTokenFile };
  const t0 = performance.now();
  await assert.rejects(
    ensureEnrolled(settings, agentTlsFiles(join(other.dir, 'state')), silentLogger(), 5),
    refusedWith(
      /TLS handshake with the controller at 127\.0\.0\.1:\d+ fails: certificate verify failed \(self-signed/,
      new RegExp(`the CA in ${caFile} is not the one that signed .*fleetnet host token HOST --out DIR`),
    ),
  );
  assert.ok(performance.now() - t0 < 15_000, 'not retried as if nobody answered');
});

test('an agent pointed at a controller without TLS (no CA): said so, with how to give it one', async (t) => {
  const addr = await plainController(t);
  const fleet = await makeTestFleet();
  t.after(() => fleet.cleanup());
  const caFile = join(fleet.dir, 'pinned-ca.crt');
  const joinTokenFile = join(fleet.dir, 'join-token');
  writeFileSync(caFile, (await fleet.cred('host', 'h1')).caPem);
  writeFileSync(joinTokenFile, 'token\n');
  const t0 = performance.now();
  await assert.rejects(
    ensureEnrolled(
      { hostId: 'h1', controller: addr, caFile, joinTokenFile },
      agentTlsFiles(fleet.dir),
      silentLogger(),
      2,
    ),
    refusedWith(
      new RegExp(
        '^the controller at 127\\.0\\.0\\.1:\\d+ does not speak TLS \\(the TLS handshake fails: wrong version ' +
          'number\\): it runs without a CA, on plain TCP$',
      ),
      new RegExp(`^give the controller a CA: on its machine fleetnet controller init, .* put that CA in ${caFile} `),
    ),
  );
  assert.ok(performance.now() - t0 < 15_000, 'not retried as if nobody answered');
});
