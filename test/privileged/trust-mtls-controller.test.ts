// Mutual TLS end to end, the controller's side, in one process over unix sockets (no network needed):
// every controller RPC called by every kind of client that must be refused (and by the ones that must
// not), a certificate rotated at the controller's request, an agent's revoked one. The fleet: trust-mtls-fixture.ts.
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { agentTlsFiles } from '../../agent/trust/credentials.js';
import { certNames } from '../../agent/trust/trust-service.js';
import { CONTROLLER_NAME } from '../../common/pki/identity.js';
import { generateKeyPair, makeCsr } from '../../common/pki/keys.js';
import { type Credential } from '../../common/pki/tls.js';
import { findCliCredential } from '../../cli/client/controller-tls.js';
import { callAgent, connectAgentTls, probeAgent } from '../../controller/bootstrap/agent-client.js';
import { AgentService, AgentTrustService, EnrollmentService } from '../../common/rpc/services.js';
import {
  agents,
  callCode,
  ctlAddr,
  DENIED,
  fleet,
  revokedHost,
  trustMtlsFleet,
  type Method,
} from './trust-mtls-fixture.js';

trustMtlsFleet();

describe('controller RPCs', () => {
  it('everything else on the controller: a CLI user (or the controller) only', async () => {
    const home = join(fleet.dir, 'home');
    mkdirSync(join(home, '.config'), { recursive: true });
    const cli = findCliCredential({ FLEETNET_CONTROLLER_DIR: join(fleet.dir, 'ctl') }, home);
    // (The controller once served some unary methods on node:http2 beside grpc-js; every method now
    // goes through grpc-js and its one interceptor, and the two methods below must still refuse alike.)
    const revoked = await fleet.cred('cli', 'admin');
    fleet.trust.revocations.revoke({ serial: revoked.serial, name: 'admin', reason: 'test' });
    const [viaGrpcJs, direct] = [AgentService.list, AgentService.capabilities] as unknown as Method[];
    for (const m of [viaGrpcJs!, direct!]) {
      {
        const r0 = await callCode(ctlAddr, CONTROLLER_NAME, cli, m);
        assert.equal(r0.code, status.OK, r0.details);
      }
      assert.equal((await callCode(ctlAddr, CONTROLLER_NAME, fleet.trust.controllerCredential(), m)).code, status.OK);
    }
    for (const [who, cred] of [
      ['no certificate', 'none'],
      ['host ha', await fleet.cred('host', 'ha')],
      ['another CA', await fleet.foreign('cli', 'admin')],
      ['expired CLI', await fleet.cred('cli', 'admin', { expired: true })],
      ['revoked CLI cert', revoked],
    ] as [string, Credential | 'none'][]) {
      const r = await callCode(ctlAddr, CONTROLLER_NAME, cred, viaGrpcJs!);
      assert.ok(DENIED.includes(r.code), `${who}: got ${r.code} ${r.details}`);
      // a second method refuses alike, with the same status and message
      const d = await callCode(ctlAddr, CONTROLLER_NAME, cred, direct!);
      assert.deepEqual([d.code, d.details], [r.code, r.details], `direct method by ${who}`);
    }
    assert.throws(
      () => findCliCredential({ FLEETNET_CONTROLLER_DIR: join(fleet.dir, 'nowhere') }, home),
      /no CLI credential/,
    );
  });

  const renew = EnrollmentService.renew as unknown as Method;
  it('Renew: only a host, for itself alone, with a valid, unrevoked certificate of this fleet', async () => {
    const csrPem = await makeCsr(await generateKeyPair(), 'x');
    const ha = await fleet.cred('host', 'ha');
    assert.equal((await callCode(ctlAddr, CONTROLLER_NAME, ha, renew, { hostId: 'ha', csrPem })).code, status.OK);
    const cases: [string, Credential | 'none', string][] = [
      ['no certificate', 'none', 'ha'],
      ['another CA', await fleet.foreign('host', 'ha'), 'ha'],
      ['expired', await fleet.cred('host', 'ha', { expired: true }), 'ha'],
      ['revoked', await revokedHost(), 'ha'],
      ['host ha acting for hb', ha, 'hb'],
      ['a CLI user', await fleet.cred('cli', 'admin'), 'ha'],
    ];
    for (const [who, cred, hostId] of cases) {
      const r = await callCode(ctlAddr, CONTROLLER_NAME, cred, renew, { hostId, csrPem });
      assert.ok(DENIED.includes(r.code), `Renew by ${who}: got ${r.code} ${r.details}`);
    }
  });

  it('rotate-cert: the controller asks, the agent renews and serves the new certificate', async () => {
    const f = agentTlsFiles(agents.hb!.stateDir);
    const before = certNames(readFileSync(f.cert, 'utf8')).serial;
    const r = await callCode(
      agents.hb!.tcp,
      'hb',
      fleet.trust.controllerCredential(),
      AgentTrustService.rotateCertificate as unknown as Method,
    );
    assert.equal(r.code, status.OK, r.details);
    const reply = r.res as { oldSerial: string; newSerial: string };
    assert.equal(reply.oldSerial, before);
    assert.equal(certNames(readFileSync(f.cert, 'utf8')).serial, reply.newSerial);
    assert.notEqual(reply.newSerial, before);
    // still reachable with the new certificate
    assert.equal(
      (await callCode(agents.hb!.tcp, 'hb', fleet.trust.controllerCredential(), AgentService.list as unknown as Method))
        .code,
      status.OK,
    );
  });

  it('the controller refuses to talk to an agent whose certificate it revoked', async () => {
    const list = (conn: ReturnType<typeof connectAgentTls>) =>
      callAgent(conn.agent, conn.agent.list, {}, 10_000, 'hb').then(
        () => 'ok',
        (e: Error) => e.message,
      );
    const before = connectAgentTls(agents.hb!.tcp, 'hb', fleet.trust);
    assert.equal(await list(before), 'ok');
    before.close();
    const serial = certNames(readFileSync(agentTlsFiles(agents.hb!.stateDir).cert, 'utf8')).serial;
    fleet.trust.revocations.revoke({ serial, name: 'hb', reason: 'test' });
    const after = connectAgentTls(agents.hb!.tcp, 'hb', fleet.trust);
    assert.match(await list(after), /does not answer|revoked/);
    after.close();
    // what host add --addr asks first: this agent is told apart from one that does not answer
    assert.deepEqual(await probeAgent(agents.hb!.tcp, 'hb', fleet.trust, 5000), {
      state: 'revoked',
      detail: `answers with certificate ${serial} for hb, which is revoked`,
    });
    assert.equal((await probeAgent(agents.ha!.tcp, 'ha', fleet.trust, 5000)).state, 'enrolled');
  });
});
