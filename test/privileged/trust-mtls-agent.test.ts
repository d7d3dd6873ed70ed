// Mutual TLS end to end, the agent's side, in one process over unix sockets (no network needed): agents
// that enroll with join tokens, and every agent RPC called by every kind of client that must be refused
// (and by the one that must not). The fleet: trust-mtls-fixture.ts.
import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { agentConfig } from '../../agent/config.js';
import { startAgent } from '../../agent/main.js';
import { agentTlsFiles } from '../../agent/trust/credentials.js';
import { certNames } from '../../agent/trust/trust-service.js';
import { CONTROLLER_NAME } from '../../common/pki/identity.js';
import { generateKeyPair, makeCsr } from '../../common/pki/keys.js';
import { type Credential } from '../../common/pki/tls.js';
import { startControllerEndpoint } from '../../controller/pki/endpoint.js';
import { makeTestFleet } from '../helpers/pki.js';
import { AgentService, AgentTrustService, EnrollmentService } from '../../common/rpc/services.js';
import {
  agentMethods,
  agents,
  callCode,
  ctlAddr,
  DENIED,
  fleet,
  log,
  revokedHost,
  startHostAgent,
  trustMtlsFleet,
  type Method,
} from './trust-mtls-fixture.js';

trustMtlsFleet();

describe('enrollment', () => {
  it(
    'an agent enrolls with its token: ' +
      'key 0600 under its state dir, certificate named for the host, CA pinned, token gone',
    () => {
      const f = agentTlsFiles(agents.ha!.stateDir);
      assert.equal(statSync(f.key).mode & 0o777, 0o600);
      assert.equal(statSync(f.dir).mode & 0o777, 0o700);
      assert.equal(certNames(readFileSync(f.cert, 'utf8')).hostId, 'ha');
      assert.equal(readFileSync(f.ca, 'utf8'), fleet.trust.ca.certPem);
      assert.equal(existsSync(agents.ha!.tokenFile), false);
    },
  );

  it('refuses a reused token, an expired one (1 s), one for another host (which stays usable)', async () => {
    const csrPem = await makeCsr(await generateKeyPair(), 'hc');
    const enroll = EnrollmentService.enroll as unknown as Method;
    const { token } = await fleet.trust.tokens.issue('hc');
    assert.equal(
      (await callCode(ctlAddr, CONTROLLER_NAME, 'none', enroll, { joinToken: token, hostId: 'hc', csrPem })).code,
      status.OK,
    );
    const again = await callCode(ctlAddr, CONTROLLER_NAME, 'none', enroll, { joinToken: token, hostId: 'hc', csrPem });
    assert.equal(again.code, status.PERMISSION_DENIED);
    assert.match(again.details, /already used/);
    const short = await fleet.trust.tokens.issue('hd', 1000);
    await new Promise((r) => setTimeout(r, 1100));
    const late = await callCode(ctlAddr, CONTROLLER_NAME, 'none', enroll, {
      joinToken: short.token,
      hostId: 'hd',
      csrPem,
    });
    assert.equal(late.code, status.PERMISSION_DENIED);
    assert.match(late.details, /expired/);
    const other = await fleet.trust.tokens.issue('he');
    const wrong = await callCode(ctlAddr, CONTROLLER_NAME, 'none', enroll, {
      joinToken: other.token,
      hostId: 'hf',
      csrPem,
    });
    assert.equal(wrong.code, status.PERMISSION_DENIED);
    assert.match(wrong.details, /made for host he, not hf \(it is not used up\)/);
    // the refused try did not use it up: the corrected one enrolls
    const right = await callCode(ctlAddr, CONTROLLER_NAME, 'none', enroll, {
      joinToken: other.token,
      hostId: 'he',
      csrPem,
    });
    assert.equal(right.code, status.OK, right.details);
  });
});

describe('every agent RPC', () => {
  it('Health answers anyone', async () => {
    const r = await callCode(agents.ha!.tcp, 'ha', 'none', AgentService.health as unknown as Method);
    assert.equal(r.code, status.OK);
  });

  it(
    'refuses no certificate, another CA, an expired one, a revoked one, ' +
      "and host certificates (its own and another host's)",
    async () => {
      const revoked = await fleet.cred('controller', CONTROLLER_NAME);
      fleet.trust.revocations.revoke({ serial: revoked.serial, name: CONTROLLER_NAME, reason: 'test' });
      const pushed = await callCode(
        agents.ha!.tcp,
        'ha',
        fleet.trust.controllerCredential(),
        AgentTrustService.revoke as unknown as Method,
        { serials: [revoked.serial] },
      );
      assert.equal(pushed.code, status.OK, pushed.details);
      assert.equal(
        (await callCode(agents.ha!.tcp, 'ha', revoked, AgentService.list as unknown as Method)).code,
        status.PERMISSION_DENIED,
      );
      const clients: [string, Credential | 'none'][] = [
        ['no certificate', 'none'],
        ['another CA', await fleet.foreign('controller', CONTROLLER_NAME)],
        ['expired', await fleet.cred('controller', CONTROLLER_NAME, { expired: true })],
        ['revoked controller cert', revoked],
        ['revoked host cert', await revokedHost()],
        ['host ha (itself)', await fleet.cred('host', 'ha')],
        ['host hb acting on ha', await fleet.cred('host', 'hb')],
        ['a CLI user', await fleet.cred('cli', 'admin')],
      ];
      let checked = 0;
      for (const m of agentMethods.filter((x) => x.path !== AgentService.health.path)) {
        for (const [who, cred] of clients) {
          const r = await callCode(agents.ha!.tcp, 'ha', cred, m);
          assert.ok(DENIED.includes(r.code), `${m.path} by ${who}: got ${r.code} ${r.details}`);
          checked++;
        }
      }
      assert.ok(agentMethods.length >= 7, 'every Agent and AgentTrust method is in the list');
      assert.equal(checked, (agentMethods.length - 1) * clients.length);
    },
  );

  it("obeys the controller's certificate (List, Capabilities; Attach reaches validation)", async () => {
    const c = fleet.trust.controllerCredential();
    assert.equal((await callCode(agents.ha!.tcp, 'ha', c, AgentService.list as unknown as Method)).code, status.OK);
    assert.equal(
      (await callCode(agents.ha!.tcp, 'ha', c, AgentService.capabilities as unknown as Method)).code,
      status.OK,
    );
    const attach = await callCode(agents.ha!.tcp, 'ha', c, AgentService.attach as unknown as Method);
    assert.equal(attach.code, status.INVALID_ARGUMENT, attach.details); // past authorization, refused by validation
  });

  it("a client that dials host hb's address expecting ha is refused by TLS (host name checked)", async () => {
    const r = await callCode(
      agents.hb!.tcp,
      'ha',
      fleet.trust.controllerCredential(),
      AgentService.list as unknown as Method,
    );
    assert.equal(r.code, status.UNAVAILABLE);
  });
});

describe('short-lived host certificates', () => {
  it('the agent renews its own at two thirds of the lifetime and keeps serving', async () => {
    const short = await makeTestFleet({ hostCertValidityMs: 3000 });
    const addr = `unix://${short.dir}/ctl.sock`;
    const ep = await startControllerEndpoint({ trust: short.trust, listen: addr, log });
    const d = join(short.dir, 'hs');
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'token'), (await short.trust.tokens.issue('hs')).token);
    const handle = await startAgent(
      agentConfig({
        socket: join(d, 'a.sock'),
        stateDir: join(d, 'state'),
        listen: `unix://${d}/tcp.sock`,
        controller: addr,
        hostName: 'hs',
        caFile: join(short.dir, 'ctl', 'ca.crt'),
        joinTokenFile: join(d, 'token'),
        logLevel: 'silent',
      }),
      log,
    );
    try {
      const f = agentTlsFiles(join(d, 'state'));
      const first = certNames(readFileSync(f.cert, 'utf8')).serial;
      for (let i = 0; i < 100 && certNames(readFileSync(f.cert, 'utf8')).serial === first; i++)
        await new Promise((r) => setTimeout(r, 100));
      assert.notEqual(certNames(readFileSync(f.cert, 'utf8')).serial, first, 'renewed within 10 s');
      assert.ok(short.trust.issued.list('hs').length >= 2);
    } finally {
      await handle.stop();
      await ep.stop();
      short.cleanup();
    }
  });
});

describe('an agent that is not enrolled', () => {
  it('answers Health on TCP and nothing else', async () => {
    const d = join(fleet.dir, 'plain');
    mkdirSync(d, { recursive: true });
    const tcp = `unix://${d}/tcp.sock`;
    const handle = await startAgent(
      agentConfig({ socket: join(d, 'agent.sock'), stateDir: join(d, 'state'), listen: tcp, logLevel: 'silent' }),
      log,
    );
    try {
      assert.equal((await callCode(tcp, 'x', 'plaintext', AgentService.health as unknown as Method)).code, status.OK);
      for (const m of agentMethods.filter((x) => x.path !== AgentService.health.path)) {
        const r = await callCode(tcp, 'x', 'plaintext', m);
        // AgentTrust is not even served before enrollment
        assert.equal(
          r.code,
          m.path.includes('AgentTrust') ? status.UNIMPLEMENTED : status.UNAUTHENTICATED,
          `${m.path}: ${r.details}`,
        );
      }
    } finally {
      await handle.stop();
    }
  });
});

describe('an enrolled agent started with --insecure-tcp', () => {
  it('keeps mutual TLS and authorization: the flag does not open it', async () => {
    await startHostAgent('hi', { insecureTcp: true });
    const tcp = agents.hi!.tcp;
    assert.equal(
      (await callCode(tcp, 'hi', fleet.trust.controllerCredential(), AgentService.list as unknown as Method)).code,
      status.OK,
    );
    assert.equal(
      (await callCode(tcp, 'hi', 'plaintext', AgentService.health as unknown as Method)).code,
      status.UNAVAILABLE,
      'no plain TCP',
    );
    for (const cred of ['none', await fleet.cred('host', 'hi'), await fleet.cred('cli', 'admin')] as (
      Credential | 'none'
    )[]) {
      const r = await callCode(tcp, 'hi', cred, AgentService.list as unknown as Method);
      assert.ok(DENIED.includes(r.code), `got ${r.code} ${r.details}`);
    }
  });
});
