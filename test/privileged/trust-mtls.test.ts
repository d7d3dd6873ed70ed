// Mutual TLS end to end, in one process over unix sockets (no network needed): a controller
// endpoint, two agents that enroll with join tokens, and every RPC called by every kind of
// client that must be refused (and by the one that must not).
import assert from 'node:assert/strict';
import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { agentConfig } from '../../agent/config.js';
import { startAgent, type AgentHandle } from '../../agent/main.js';
import { agentTlsFiles } from '../../agent/trust/credentials.js';
import { certNames } from '../../agent/trust/trust-service.js';
import { unary } from '../../common/rpc/server.js';
import { CONTROLLER_NAME } from '../../common/pki/identity.js';
import { generateKeyPair, makeCsr } from '../../common/pki/keys.js';
import { clientCredentials, expectServerName, type Credential } from '../../common/pki/tls.js';
import { startControllerEndpoint, type ControllerEndpoint } from '../../controller/pki/endpoint.js';
import { makeTestFleet, type TestFleet } from '../helpers/pki.js';
import { findCliCredential } from '../../cli/client/controller-tls.js';
import { callAgent, connectAgentTls } from '../../controller/bootstrap/agent-client.js';
import { AgentService, AgentTrustService, EnrollmentService } from '../../common/rpc/services.js';

const log = pino({ level: 'silent' });
let fleet: TestFleet;
let ctl: ControllerEndpoint;
const agents: Record<string, { handle: AgentHandle; tcp: string; stateDir: string; tokenFile: string }> = {};
let ctlAddr: string;

type Method = {
  path: string;
  requestSerialize: (x: never) => Buffer;
  requestDeserialize: (b: Buffer) => object;
  responseDeserialize: (b: Buffer) => unknown;
};

/** One raw unary call of any method: returns the status code (0 = OK). */
async function callCode(
  addr: string,
  serverName: string,
  cred: Credential | 'none' | 'plaintext',
  m: Method,
  req: object = {},
): Promise<{ code: number; details: string; res?: unknown }> {
  const caPem = fleet.trust.ca.certPem;
  const creds =
    cred === 'plaintext'
      ? credentials.createInsecure()
      : cred === 'none'
        ? clientCredentials(caPem)
        : clientCredentials(caPem, cred);
  const client = new Client(addr, creds, expectServerName(serverName));
  try {
    return await new Promise((resolve) => {
      client.makeUnaryRequest(
        m.path,
        m.requestSerialize as (x: object) => Buffer,
        m.responseDeserialize,
        { ...m.requestDeserialize(Buffer.alloc(0)), ...req },
        new Metadata(),
        { deadline: Date.now() + 15_000 },
        (err: ServiceError | null, res?: unknown) =>
          resolve(err ? { code: err.code, details: err.details } : { code: 0, details: '', res }),
      );
    });
  } finally {
    client.close();
  }
}

async function startHostAgent(name: string, extra: { insecureTcp?: boolean } = {}): Promise<void> {
  const d = join(fleet.dir, name);
  mkdirSync(d, { recursive: true });
  const tokenFile = join(d, 'join-token');
  writeFileSync(tokenFile, (await fleet.trust.tokens.issue(name)).token, { mode: 0o600 });
  const tcp = `unix://${d}/tcp.sock`;
  const cfg = agentConfig({
    socket: join(d, 'agent.sock'),
    stateDir: join(d, 'state'),
    listen: tcp,
    controller: ctlAddr,
    hostName: name,
    caFile: join(fleet.dir, 'ctl', 'ca.crt'),
    joinTokenFile: tokenFile,
    logLevel: 'silent',
    ...extra,
  });
  agents[name] = { handle: await startAgent(cfg, log), tcp, stateDir: join(d, 'state'), tokenFile };
}

before(async () => {
  fleet = await makeTestFleet();
  ctlAddr = `unix://${fleet.dir}/ctl.sock`;
  // a stand-in for the Controller service: any method without a rule of its own is CLI/controller only
  // list through grpc-js and its interceptor; capabilities (a `unary` handler) on node:http2 directly
  const stub = {
    list: (_c: unknown, cb: (e: null, r: object) => void) => cb(null, { interfaces: [], labelled: [] }),
    capabilities: unary(log, 'Capabilities', async () => ({ capabilities: [] })),
  };
  ctl = await startControllerEndpoint({
    trust: fleet.trust,
    listen: ctlAddr,
    log,
    services: [{ def: AgentService, impl: stub as never }],
  });
  await startHostAgent('ha');
  await startHostAgent('hb');
});

after(async () => {
  for (const a of Object.values(agents)) await a.handle.stop();
  await ctl?.stop();
  fleet?.cleanup();
});

const DENIED = [status.UNAUTHENTICATED, status.PERMISSION_DENIED];
const agentMethods = [...Object.values(AgentService), ...Object.values(AgentTrustService)] as unknown as (Method & {
  path: string;
})[];

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

  it('a reused token, an expired one (1 s) and one made for another host are refused', async () => {
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
    assert.match(wrong.details, /made for host he/);
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

async function revokedHost(): Promise<Credential> {
  const c = await fleet.cred('host', 'ha');
  fleet.trust.revocations.revoke({ serial: c.serial, name: 'ha', reason: 'test' });
  return c;
}

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
