// Fleet administration without a host: the Admin service's handlers on a real CA (tokens, CLI
// credentials, revocation, who may call), the agent settings file host add --ssh installs, and
// the exact commands of an upgrade (systemd and supervised).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { readAgentConfig } from '../../cli/bootstrap/agent-config.js';
import { bootstrapHost, type FleetAuthority } from '../../cli/bootstrap/bootstrap.js';
import {
  readAgentSettings,
  REMOTE,
  restartAgent,
  startSupervised,
  unitText,
  writeAgentConfig,
} from '../../cli/bootstrap/install.js';
import { refuseUnusable } from '../../cli/commands/host.js';
import { FleetnetError } from '../../common/errors.js';
import { identityOfPem } from '../../common/pki/identity.js';
import { generateKeyPair, makeCsr } from '../../common/pki/keys.js';
import * as x509 from '../../common/pki/x509.js';
import { FakeRunner } from '../../common/runner.js';
import { ADMIN_POLICY, adminService } from '../../controller/service/admin-service.js';
import type { Store } from '../../controller/store/store.js';
import { AdminDefinition, ProbeAgentReply_State } from '../../proto/gen/fleetnet/v1/admin.js';
import { callHandler as call, makeTestFleet, type TestFleet } from '../helpers/pki.js';

const silent = pino({ level: 'silent' });
type Kinded = Error & { kind: string };
const noStore = { read: async () => undefined } as unknown as Store;

describe('the Admin service', () => {
  let fleet: TestFleet;
  before(async () => {
    fleet = await makeTestFleet();
  });
  after(() => fleet.cleanup());

  it('every Admin RPC is for a CLI certificate only (not a host, not the controller itself)', () => {
    const methods = Object.values(AdminDefinition.methods)
      .map((m) => `/fleetnet.v1.Admin/${m.name}`)
      .sort();
    assert.deepEqual(Object.keys(ADMIN_POLICY).sort(), methods, 'a new RPC needs its rule');
    for (const m of methods) assert.deepEqual(ADMIN_POLICY[m], { kind: 'roles', roles: ['cli'] }, m);
  });

  it('HostToken: a token bound to the host, the CA to pin; it works once; RevokeHostToken voids it', async () => {
    const impl = adminService({ trust: fleet.trust, store: noStore, log: silent });
    type Token = { token: string; hostId: string; caPem: string; expiresAtUnixMs: number; issuedAtUnixMs: number };
    const t = await call<Token>(impl, 'hostToken', { hostId: 'h7', ttlMs: 3_600_000 });
    assert.equal(t.hostId, 'h7');
    assert.equal(t.caPem, fleet.trust.ca.certPem);
    const lifetime = t.expiresAtUnixMs - t.issuedAtUnixMs; // two clock reads on the controller, one after the other
    assert.ok(lifetime >= 3_600_000 && lifetime < 3_660_000, `the lifetime asked for: ${lifetime} ms`);
    assert.equal(await fleet.trust.tokens.consume(t.token, 'h7'), 'h7');
    await assert.rejects(fleet.trust.tokens.consume(t.token, 'h7'), /already used/);
    // RevokeHostToken: a token not used yet (a failed bootstrap's) is void
    const unused = await call<Token>(impl, 'hostToken', { hostId: 'h7', ttlMs: 0 });
    assert.deepEqual(await call(impl, 'revokeHostToken', { token: unused.token }), { revoked: true });
    assert.deepEqual(await call(impl, 'revokeHostToken', { token: unused.token }), { revoked: false });
    await assert.rejects(fleet.trust.tokens.consume(unused.token, 'h7'), /already used/);
    await assert.rejects(call(impl, 'hostToken', { hostId: 'H!', ttlMs: 0 }), (e: Kinded) => e.kind === 'invalid');
  });

  it("IssueClientCert signs the CLI's CSR as a cli certificate for that user; the key never travels", async () => {
    const impl = adminService({ trust: fleet.trust, store: noStore, log: silent });
    const csrPem = await makeCsr(await generateKeyPair(), 'alice');
    const c = await call<{ certPem: string; caPem: string }>(impl, 'issueClientCert', { user: 'alice', csrPem });
    const cert = new x509.X509Certificate(c.certPem);
    assert.match(cert.subject, /CN=alice/);
    assert.match(cert.subject, /OU=cli/);
    assert.equal(c.caPem, fleet.trust.ca.certPem);
    await assert.rejects(call(impl, 'issueClientCert', { user: 'bob', csrPem: 'not a csr' }), /not a PEM PKCS#10 CSR/);
    await assert.rejects(call(impl, 'issueClientCert', { user: 'a;b', csrPem }), /^Error: CLI user name "a;b"/);
  });

  it("RevokeClientCerts: every credential of a user (or one serial), never the caller's own", async () => {
    const impl = adminService({ trust: fleet.trust, store: noStore, log: silent });
    const issue = async (user: string) => {
      const csrPem = await makeCsr(await generateKeyPair(), user);
      return call<{ certPem: string; serial: string }>(impl, 'issueClientCert', { user, csrPem });
    };
    const [a1, a2, b1, c1] = [await issue('erin'), await issue('erin'), await issue('bob'), await issue('carol')];
    const revoked = (c: { serial: string }) => fleet.trust.revocations.isRevoked(c.serial);
    const all = await call<{ serials: string[] }>(
      impl,
      'revokeClientCerts',
      { user: 'erin', reason: 'lost' },
      b1.certPem,
    );
    assert.deepEqual(all.serials, [a1.serial, a2.serial]);
    assert.ok(revoked(a1) && revoked(a2) && !revoked(b1) && !revoked(c1));
    assert.ok(fleet.trust.revocations.list().some((e) => e.serial === a1.serial && e.name === 'erin'));
    const one = { user: 'carol', serial: c1.serial.toUpperCase(), reason: '' };
    const carols = { serials: [c1.serial], unrecorded: false };
    assert.deepEqual(await call(impl, 'revokeClientCerts', one, b1.certPem), carols);
    assert.ok(revoked(c1));
    const refused = async (req: object, kind: string, msg: RegExp) =>
      assert.rejects(
        call(impl, 'revokeClientCerts', req, b1.certPem),
        (e: Kinded) => e.kind === kind && msg.test(e.message),
      );
    await refused(
      { user: 'bob', reason: '', serial: '' },
      'conflict',
      /credential .* is the one this CLI uses: not revoked/,
    );
    assert.ok(!revoked(b1), 'not even with the others of the user');
    await refused(
      { user: 'dave', reason: '', serial: '' },
      'not_found',
      /no CLI credential issued to dave is on record/,
    );
    await refused({ user: 'bob', reason: '', serial: 'zz' }, 'invalid', /serial "zz" is not a certificate serial/);
  });

  it("RevokeClientCerts --serial: USER's (or one on no record), not another's, a host's, the controller", async () => {
    const impl = adminService({ trust: fleet.trust, store: noStore, log: silent });
    const issue = async (user: string) => {
      const csrPem = await makeCsr(await generateKeyPair(), user);
      return call<{ certPem: string; serial: string }>(impl, 'issueClientCert', { user, csrPem });
    };
    const [alice, bob] = [await issue('alice2'), await issue('bob2')];
    fleet.trust.issued.record('h9', { serial: 'beef09', notAfterMs: Date.now() + 1000, atMs: 1000 });
    const ctl = identityOfPem(fleet.trust.controllerCredential().certPem).serial;
    const revoke = (serial: string) =>
      call(impl, 'revokeClientCerts', { user: 'alice2', reason: '', serial }, bob.certPem);
    const refused = (serial: string, msg: RegExp, hint: RegExp) =>
      assert.rejects(revoke(serial), (e: Kinded & { hint?: string }) => {
        return e.kind === 'invalid' && msg.test(e.message) && hint.test(e.hint ?? '');
      });
    await refused(bob.serial, /is not a CLI credential of alice2: it is CLI user bob2's/, /cli-revoke bob2 --serial/);
    await refused('BEEF09', /serial beef09 .* host h9's certificate/, /host rm h9/);
    await refused(ctl, /the controller's own certificate/, /openssl x509/);
    const revoked = fleet.trust.revocations.isRevoked;
    assert.ok(![bob.serial, 'beef09', ctl].some((s) => revoked.call(fleet.trust.revocations, s)), 'none revoked');
    assert.deepEqual(await revoke('abcdef0123'), { serials: ['abcdef0123'], unrecorded: true }, 'an older credential');
    assert.deepEqual(await revoke(alice.serial), { serials: [alice.serial], unrecorded: false });
  });

  it('RevokeHostCerts: what was issued since a time (a failed bootstrap), or all and forgotten (host rm)', async () => {
    const impl = adminService({ trust: fleet.trust, store: noStore, log: silent });
    fleet.trust.issued.record('h8', { serial: 'a1', notAfterMs: Date.now() + 1000, atMs: 1000 });
    fleet.trust.issued.record('h8', { serial: 'b2', notAfterMs: Date.now() + 1000, atMs: 5000 });
    const since = { hostId: 'h8', reason: 'bootstrap failed', issuedSinceUnixMs: 4000, forget: false };
    const some = await call<{ serials: string[]; hasCa: boolean }>(impl, 'revokeHostCerts', since);
    assert.deepEqual(some, { serials: ['b2'], hasCa: true });
    assert.ok(fleet.trust.revocations.isRevoked('b2') && !fleet.trust.revocations.isRevoked('a1'));
    const rm = { hostId: 'h8', reason: 'host rm', issuedSinceUnixMs: 0, forget: true };
    const all = await call<{ serials: string[] }>(impl, 'revokeHostCerts', rm);
    assert.deepEqual(all.serials, ['a1', 'b2']);
    assert.deepEqual(fleet.trust.issued.list('h8'), []);
  });

  it('without a CA: what needs one says so and how to get one; revocation has nothing to do', async () => {
    const impl = adminService({ trust: undefined, store: noStore, log: silent });
    await assert.rejects(
      call(impl, 'hostToken', { hostId: 'h1', ttlMs: 0 }),
      (e: Kinded) => e.kind === 'unsupported' && /without one/.test(e.message),
    );
    const rm = { hostId: 'h1', reason: '', issuedSinceUnixMs: 0, forget: true };
    assert.deepEqual(await call(impl, 'revokeHostCerts', rm), { serials: [], hasCa: false });
    const probe = await call(impl, 'probeAgent', { hostId: 'h1', agentAddr: '10.0.0.1' });
    assert.deepEqual(probe, { state: ProbeAgentReply_State.NO_CA, detail: 'this controller has no CA' });
  });
});

describe('host add --agent-config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleetnet-agent-config-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  const file = (name: string, text: string) => {
    const p = join(dir, `${name}-${n++}.yaml`);
    writeFileSync(p, text);
    return p;
  };

  it('a valid file is sent as written', async () => {
    const text = '# this host runs user-space OVS\novs-datapath: netdev\nlog-level: debug\n';
    assert.equal(await readAgentConfig(file('ok', text)), text);
  });

  it('mistakes are exit 2 naming the file, the line and the key, before anything is sent', async () => {
    const cases: [string, RegExp][] = [
      ['log-level: debug\novs-datapth: netdev\n', /:2: unknown key 'ovs-datapth'/],
      ['ovs-datapath: fast\n', /:1: key 'ovs-datapath'/],
      ['listen: [1, 2\n', /not valid YAML/],
      ['log-level: info\nlisten: 10.0.0.1:7441\n', /key 'listen' is set by the install/],
      ['controller: 10.0.0.1:7440\n', /key 'controller' is set by the install/],
    ];
    for (const [text, msg] of cases) {
      const named = (e: Kinded) => e.kind === 'invalid' && msg.test(e.message);
      await assert.rejects(readAgentConfig(file('bad', text)), named, text);
    }
    await assert.rejects(readAgentConfig('/nonexistent/agent.yaml'), /--agent-config \/nonexistent\/agent.yaml/);
  });

  it("is installed as /etc/fleetnet/agent.yaml, 0600, after the agent's own files", async () => {
    const r = new FakeRunner();
    const s = { hostId: 'h3', listen: '10.0.0.13:7441', controller: '10.0.0.1:7440' };
    await writeAgentConfig(r, s, 'CA', 'fnj_x', 'ovs-datapath: netdev\n');
    assert.deepEqual(
      r.calls.slice(-2).map((c) => [c.cmd, ...c.args]),
      [
        ['install', '-m', '0600', '/dev/null', REMOTE.agentConfig],
        ['sh', '-c', 'cat > "$1"', 'sh', REMOTE.agentConfig],
      ],
    );
    assert.equal(r.calls.at(-1)!.input, 'ovs-datapath: netdev\n');
    assert.equal(REMOTE.agentConfig, '/etc/fleetnet/agent.yaml');
  });
});

describe('host add --addr asks the controller what answers there first', () => {
  const probed = (state: ProbeAgentReply_State, detail: string) => ({
    addr: '10.0.0.1:7440',
    call: async <Req, Res>() => ({ state, detail }) as Res,
  });

  it('an agent with a revoked certificate is refused, naming it, with how to enroll it again', async () => {
    const detail = 'answers with certificate 1f00 for h3, which is revoked';
    await assert.rejects(refuseUnusable(probed(ProbeAgentReply_State.REVOKED, detail), 'h3', '10.0.0.13:7441'), (e) => {
      assert.ok(e instanceof FleetnetError && e.kind === 'conflict');
      assert.match(e.message, /^the agent at 10\.0\.0\.13:7441 answers with certificate 1f00 for h3, which is revoked/);
      assert.match(e.message, /nothing was recorded$/);
      assert.match(e.hint ?? '', /enroll it again, with a new join token/);
      assert.match(e.hint ?? '', /fleetnet host token h3 --listen 10\.0\.0\.13:7441/);
      assert.match(e.hint ?? '', /delete its revoked certificate \(rm -r \/var\/lib\/fleetnet\/agent\/tls\)/);
      return true;
    });
    const enrolled = probed(ProbeAgentReply_State.ENROLLED, 'answers over mutual TLS as h3');
    await refuseUnusable(enrolled, 'h3', '10.0.0.13:7441');
  });
});

describe('host add --ssh asks the controller first, and takes back what it got', () => {
  /** The controller's side of a bootstrap, recording each call; hostToken answers with `token`. */
  function authorityOf(
    calls: string[],
    token: () => Promise<{ token: string; caPem: string; issuedAtUnixMs: number }>,
  ) {
    const authority: FleetAuthority = {
      hostToken: async () => (calls.push('hostToken'), token()),
      dropToken: async (t) => void calls.push(`dropToken ${t}`),
      waitEnrolled: async () => void calls.push('waitEnrolled'),
      revokeSince: async (h, since) => void calls.push(`revokeSince ${h} ${since}`),
      register: async () => (calls.push('register'), { addedUnixMs: 0 }),
      unregister: async () => void calls.push('unregister'),
    };
    return authority;
  }
  // port 1 of loopback: nothing answers there
  const ssh = { user: 'root', addr: '127.0.0.1', port: 1, knownHostsFile: '/nonexistent/kh', acceptNew: false };
  const req = { hostId: 'h9', ssh, controller: '127.0.0.1:7440' };

  it('a controller that cannot issue a join token stops the bootstrap before any SSH connection', async () => {
    const events: string[] = [];
    const calls: string[] = [];
    const authority = authorityOf(calls, async () => {
      throw new FleetnetError('unsupported', "a join token needs the controller's CA, and it runs without one");
    });
    const progress = (e: { step: string; state: string }) => void events.push(`${e.step} ${e.state}`);
    await assert.rejects(
      bootstrapHost(req, { authority, log: silent, progress }),
      (e: Kinded) => e.kind === 'unsupported' && /without one/.test(e.message),
    );
    assert.deepEqual(calls, ['hostToken']);
    assert.deepEqual(events, ['connect start', 'connect failed']);
  });

  it('an SSH step that fails voids the join token it was given, then revokes what was issued since', async () => {
    const calls: string[] = [];
    const authority = authorityOf(calls, async () => ({ token: 'fnj_x', caPem: 'CA', issuedAtUnixMs: 1234 }));
    await assert.rejects(bootstrapHost(req, { authority, log: silent }), /127\.0\.0\.1/);
    assert.deepEqual(calls, ['hostToken', 'dropToken fnj_x', 'revokeSince h9 1234']);
  });
});

describe('host upgrade on the host', () => {
  const S = { hostId: 'h3', listen: '10.0.0.13:7441', controller: '10.0.0.1:7440' };

  it('reads back the settings the install wrote; refuses an agent.env that lacks them', async () => {
    const env = (stdout: string) => new FakeRunner((c) => (c.cmd === 'cat' ? { stdout } : undefined));
    const written = 'FLEETNET_HOST_ID=h3\nFLEETNET_LISTEN=10.0.0.13:7441\nFLEETNET_CONTROLLER=10.0.0.1:7440\n';
    assert.deepEqual(await readAgentSettings(env(written)), S);
    await assert.rejects(readAgentSettings(env('FLEETNET_HOST_ID=h3\n')), /lacks FLEETNET_HOST_ID, FLEETNET_LISTEN or/);
  });

  it('systemd: the unit of this version, then a restart (nothing else touched)', async () => {
    const r = new FakeRunner();
    await restartAgent(r, true, S);
    assert.deepEqual(
      r.calls.map((c) => [c.cmd, ...c.args]),
      [
        ['install', '-m', '0644', '/dev/null', REMOTE.unit],
        ['sh', '-c', 'cat > "$1"', 'sh', REMOTE.unit],
        ['systemctl', 'daemon-reload'],
        ['systemctl', 'restart', 'fleetnet-agent.service'],
      ],
    );
    assert.equal(r.calls[1]!.input, unitText());
  });

  it('no systemd: the supervisor stops (and its agent with it), then starts again with the same settings', async () => {
    const r = new FakeRunner();
    await restartAgent(r, false, S);
    const start = new FakeRunner();
    await startSupervised(start, S);
    assert.equal(r.calls.length, 2);
    assert.deepEqual(r.calls[0]!.args.slice(-1), [REMOTE.pid]);
    assert.deepEqual(r.calls[1], start.calls[0]);
  });
});
