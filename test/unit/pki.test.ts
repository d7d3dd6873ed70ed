// PKI and join tokens: pure, in temporary folders.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as x509 from '../../common/pki/x509.js';
import { FleetnetError } from '../../common/errors.js';
import { CLOCK_SKEW_MS, identityOfPem, normalizeSerial, parseHostId } from '../../common/pki/identity.js';
import { crypto, generateKeyPair, makeCsr } from '../../common/pki/keys.js';
import { CertificateAuthority } from '../../controller/pki/ca.js';
import { initControllerDir, openTrust, paths } from '../../controller/pki/controller-dir.js';
import { issueHostCert, revokeHost } from '../../controller/pki/enrollment-service.js';
import { FileJoinTokenStore, JoinTokens, MemoryJoinTokenStore } from '../../controller/pki/join-tokens.js';
import { FileRevocationStore } from '../../common/pki/revocation.js';
import { parseDuration } from '../../controller/pki/settings.js';

function tmp(t: { after(fn: () => void): void }): string {
  const d = mkdtempSync(join(tmpdir(), 'fleetnet-pki-'));
  t.after(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

const kindOf = async (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: unknown) => (e instanceof FleetnetError ? e.kind : `other: ${String(e)}`),
  );

test('controller init: CA, controller and CLI certificates, keys 0600, refuses to overwrite', async (t) => {
  const dir = join(tmp(t), 'ctl');
  const r = await initControllerDir(dir);
  const p = paths(dir);
  // what README says it makes (revoked.json comes with the first revocation); admin's serial on record
  assert.deepEqual(readdirSync(dir).sort(), [
    'ca.crt',
    'ca.key',
    'certs',
    'cli',
    'controller.crt',
    'controller.key',
    'settings.json',
    'tokens',
  ]);
  assert.deepEqual(readdirSync(p.certs), ['cli:admin.json']);
  assert.deepEqual(
    (await openTrust(dir)).issued.list('cli:admin').map((c) => c.serial),
    [identityOfPem(readFileSync(r.cliCert, 'utf8')).serial],
  );
  for (const f of ['ca.key', 'controller.key', 'cli/admin.key'])
    assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  const ca = new x509.X509Certificate(readFileSync(p.caCert, 'utf8'));
  assert.ok(await ca.isSelfSigned(crypto));
  assert.equal(ca.getExtension(x509.BasicConstraintsExtension)?.ca, true);
  for (const [file, ou, cn] of [
    [r.controllerCert, 'controller', 'fleetnet-controller'],
    [r.cliCert, 'cli', 'admin'],
  ] as const) {
    const c = new x509.X509Certificate(readFileSync(file, 'utf8'));
    assert.ok(await c.verify({ publicKey: ca.publicKey, signatureOnly: true }, crypto), `${file} signed by the CA`);
    assert.match(c.subject, new RegExp(`CN=${cn}`));
    assert.match(c.subject, new RegExp(`OU=${ou}`));
  }
  assert.equal(await kindOf(initControllerDir(dir)), 'conflict');
});

test('host certificate from a CSR: names from fleetnet, not from the CSR; validity from the settings', async (t) => {
  const dir = tmp(t);
  await initControllerDir(dir, { settings: { hostCertValidityMs: 3_600_000 } });
  const trust = await openTrust(dir);
  const keys = await generateKeyPair();
  const csr = await makeCsr(keys, 'evil-controller'); // what the CSR asks for does not matter
  const reply = await issueHostCert(trust, 'h3', csr);
  const cert = new x509.X509Certificate(reply.certPem);
  assert.match(cert.subject, /CN=h3/);
  assert.match(cert.subject, /OU=host/);
  assert.deepEqual(cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON(), [
    { type: 'dns', value: 'h3' },
  ]);
  const lifeMs = cert.notAfter.getTime() - cert.notBefore.getTime();
  assert.equal(lifeMs, 3_600_000 + CLOCK_SKEW_MS, 'valid for the setting from now, and back-dated by the clock skew');
  assert.equal(reply.caPem, trust.ca.certPem);
  assert.deepEqual(
    trust.issued.list('h3').map((r) => r.serial),
    [reply.serial],
  );
  // the key in the certificate is the CSR's
  const spki = Buffer.from(await crypto.subtle.exportKey('spki', keys.publicKey));
  assert.deepEqual(Buffer.from(cert.publicKey.rawData), spki);
});

test("an agent's certificate facts (Node's X509Certificate) are what @peculiar/x509 reads", async (t) => {
  const dir = tmp(t);
  await initControllerDir(dir, { settings: { hostCertValidityMs: 3_600_000 } });
  const trust = await openTrust(dir);
  const reply = await issueHostCert(trust, 'web-1.dc2', await makeCsr(await generateKeyPair(), 'x'));
  const cert = new x509.X509Certificate(reply.certPem);
  assert.deepEqual(identityOfPem(reply.certPem), {
    role: 'host',
    name: 'web-1.dc2',
    serial: normalizeSerial(cert.serialNumber),
    notBeforeMs: cert.notBefore.getTime(),
    notAfterMs: cert.notAfter.getTime(),
  });
  assert.equal(identityOfPem(reply.certPem).serial, normalizeSerial(reply.serial), 'the serial the controller lists');
});

test('a CSR that is not one, or whose signature is wrong, is refused as invalid', async (t) => {
  const dir = tmp(t);
  const ca = await CertificateAuthority.create(dir);
  assert.equal(await kindOf(ca.issueFromCsr('not a csr', { role: 'host', name: 'h1', validityMs: 1000 })), 'invalid');
  const csr = await makeCsr(await generateKeyPair(), 'h1');
  const der = Buffer.from(x509.PemConverter.decode(csr)[0]!);
  der.writeUInt8(der.readUInt8(der.length - 5) ^ 0xff, der.length - 5); // flip bits inside the signature
  const bad = x509.PemConverter.encode(der, 'CERTIFICATE REQUEST');
  assert.equal(await kindOf(ca.issueFromCsr(bad, { role: 'host', name: 'h1', validityMs: 1000 })), 'invalid');
});

for (const kind of ['memory', 'file'] as const) {
  test(`join tokens (${kind} store): single use, bound to a host, expire, stored hashed`, async (t) => {
    const dir = tmp(t);
    let now = 1_000_000;
    const store = kind === 'memory' ? new MemoryJoinTokenStore() : new FileJoinTokenStore(join(dir, 'tokens'));
    const tokens = new JoinTokens({ store, ttlMs: 60_000, now: () => now });
    const a = await tokens.issue('h1');
    assert.match(a.token, /^fnj_[A-Za-z0-9_-]{43}$/);
    if (kind === 'file') {
      const files = readdirSync(join(dir, 'tokens'));
      assert.equal(files.length, 1);
      assert.ok(
        !readFileSync(join(dir, 'tokens', files[0]!), 'utf8').includes(a.token.slice(4)),
        'the token itself is never stored',
      );
      assert.equal(statSync(join(dir, 'tokens', files[0]!)).mode & 0o777, 0o600);
    }
    // made for h1: a try as h4 is refused naming h1, and leaves it usable (the corrected retry works)
    await assert.rejects(tokens.consume(a.token, 'h4'), (e: FleetnetError) => {
      assert.equal(e.kind, 'permission');
      assert.match(e.message, /it was made for host h1, not h4 \(it is not used up\)/);
      assert.match(e.hint ?? '', /--host-name h1/);
      return true;
    });
    assert.equal(await tokens.consume(a.token, 'h1'), 'h1');
    await assert.rejects(tokens.consume(a.token, 'h1'), /already used/);
    const b = await tokens.issue('h2', 1000);
    now += 1000;
    await assert.rejects(tokens.consume(b.token, 'h2'), /expired/);
    await assert.rejects(tokens.consume(b.token, 'h2'), /already used/); // an expired token is gone too
    await assert.rejects(tokens.consume('fnj_madeup', 'h1'), (e: FleetnetError) => e.kind === 'permission');
    await assert.rejects(tokens.consume('hello', 'h1'), /not a fleetnet join token/);
    await assert.rejects(tokens.issue('H1!'), (e: FleetnetError) => e.kind === 'invalid');
    await assert.rejects(tokens.issue('h1', 0), (e: FleetnetError) => e.kind === 'invalid');
    const c = await tokens.issue('h3', 10);
    now += 11;
    assert.equal(await store.prune(now), 1);
    await assert.rejects(tokens.consume(c.token, 'h3'), /already used/);
    const d = await tokens.issue('h5'); // a failed bootstrap voids its token
    assert.equal(await tokens.drop(d.token), true);
    assert.equal(await tokens.drop(d.token), false);
    await assert.rejects(tokens.consume(d.token, 'h5'), /already used/);
  });
}

test('a join token raced by 20 consumers at once (file store, two store instances) is used exactly once', async (t) => {
  const dir = join(tmp(t), 'tokens');
  const tokens1 = new JoinTokens({ store: new FileJoinTokenStore(dir), ttlMs: 60_000 });
  const tokens2 = new JoinTokens({ store: new FileJoinTokenStore(dir), ttlMs: 60_000 });
  const { token } = await tokens1.issue('h9');
  const results = await Promise.allSettled(
    Array.from({ length: 20 }, (_, i) => (i % 2 ? tokens1 : tokens2).consume(token, 'h9')),
  );
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  assert.deepEqual(readdirSync(dir), []);
});

test(
  'revocation: a file store sees what another instance revoked; ' + 'host rm revokes every serial of the host',
  async (t) => {
    const dir = tmp(t);
    await initControllerDir(dir);
    const trust = await openTrust(dir);
    const csr = await makeCsr(await generateKeyPair(), 'x');
    const one = await issueHostCert(trust, 'h1', csr);
    const two = await issueHostCert(trust, 'h1', csr);
    const other = await issueHostCert(trust, 'h2', csr);
    const reader = new FileRevocationStore(paths(dir).revoked);
    assert.equal(reader.isRevoked(one.serial), false);
    assert.deepEqual(revokeHost(trust, 'h1', 'host rm').sort(), [one.serial, two.serial].sort());
    assert.equal(reader.isRevoked(one.serial), true);
    assert.equal(reader.isRevoked(two.serial.toUpperCase()), true, 'serials compare case-insensitively');
    assert.equal(reader.isRevoked(other.serial), false);
    assert.equal(statSync(paths(dir).revoked).mode & 0o777, 0o644);
  },
);

test('durations and host ids', () => {
  assert.equal(parseDuration('1s'), 1000);
  assert.equal(parseDuration('15m'), 900_000);
  assert.equal(parseDuration('30d'), 30 * 86_400_000);
  assert.throws(() => parseDuration('0s'), /duration/);
  assert.throws(() => parseDuration('10'), /not valid/);
  assert.equal(parseHostId('web-1.dc2'), 'web-1.dc2');
  for (const bad of ['', 'H1', '-h', 'h_1', 'a/b', 'a..b', '../x'])
    assert.throws(() => parseHostId(bad), /not usable/, bad);
});

test('checkPeer: the per-call decision from a peer certificate (expiry, revocation, role, host scope)', async () => {
  const { checkPeer } = await import('../../common/pki/authorize.js');
  const now = Date.parse('2026-01-01T00:00:00Z');
  const peer = (ou: string, cn: string, from = '2025-12-01T00:00:00Z', to = '2026-02-01T00:00:00Z') =>
    ({
      raw: Buffer.from('x'),
      subject: { OU: ou, CN: cn },
      serialNumber: '0ABC',
      valid_from: from,
      valid_to: to,
    }) as never;
  const o = { now: () => now, isRevoked: (s: string) => s === 'dead' };
  const ctl = { kind: 'roles', roles: ['controller'] } as const;
  assert.equal(checkPeer(ctl, peer('controller', 'fleetnet-controller'), o)?.serial, 'abc');
  assert.equal(checkPeer({ kind: 'public' }, undefined, o), undefined);
  assert.throws(() => checkPeer(ctl, undefined, o), /no client certificate/);
  assert.throws(() => checkPeer(ctl, peer('host', 'h1'), o), /a host certificate \(h1\) may not call this/);
  assert.throws(
    () => checkPeer(ctl, peer('controller', 'c', '2025-01-01T00:00:00Z', '2025-12-31T00:00:00Z'), o),
    /not valid now/,
  );
  assert.throws(() => checkPeer(ctl, peer('controller', 'c', '2026-01-02T00:00:00Z'), o), /not valid now/);
  assert.throws(() => checkPeer(ctl, peer('controller', 'c'), { ...o, isRevoked: (s) => s === 'abc' }), /revoked/);
  const cli = { kind: 'roles', roles: ['cli'] } as const;
  assert.throws(
    () => checkPeer(cli, peer('cli', 'alice'), { ...o, isRevoked: (s) => s === 'abc' }),
    (e: FleetnetError) =>
      /certificate abc of cli alice is revoked/.test(e.message) && /controller cli-revoke/.test(e.hint ?? ''),
  );
  assert.throws(() => checkPeer(ctl, peer('admin', 'c'), o), /names no fleetnet role/);
  assert.equal(checkPeer({ kind: 'host-self', field: 'hostId' }, peer('host', 'h1'), o)?.name, 'h1');
  assert.throws(() => checkPeer({ kind: 'host-self', field: 'hostId' }, peer('cli', 'admin'), o), /may not call this/);
});
