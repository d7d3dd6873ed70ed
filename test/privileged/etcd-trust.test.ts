// Shared trust on etcd (issue 13): two controllers' stores on one etcd, each with the fleet's CA
// from its trust folder. A join token issued through one is taken once through either (also when
// both try at the same moment); a serial issued through one (a host's, or a CLI credential's) is
// revoked through the other and the revocation reaches the first; revocations already in the
// folder are copied in; neither the CA key nor a token in the clear is ever in etcd.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { after, before, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { checkPeer } from '../../common/pki/authorize.js';
import { generateKeyPair, makeCsr } from '../../common/pki/keys.js';
import { silentLogger } from '../../common/logger.js';
import type { Trust } from '../../controller/pki/controller-dir.js';
import { revokeHost } from '../../controller/pki/enrollment-service.js';
import { cliSubject } from '../../controller/pki/issued-certs.js';
import { adminService } from '../../controller/service/admin-service.js';
import { EtcdStore } from '../../controller/store/etcd/etcd-store.js';
import type { Store } from '../../controller/store/store.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';
import { callHandler, makeTestFleet, type TestFleet } from '../helpers/pki.js';

const prefix = `/fleetnet-trust-${process.pid}/`;
let etcd: TestEtcd;
let fleet: TestFleet;
let a: EtcdStore;
let b: EtcdStore;
let ta: Trust;
let tb: Trust;
const issuedTokens: string[] = [];

async function waitFor(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

before(async () => {
  etcd = await startTestEtcd(1);
  fleet = await makeTestFleet();
  // Revoked while the fleet ran on its trust folder alone: copied to etcd when a controller opens it there.
  fleet.trust.revocations.revoke({ serial: 'AB01', name: 'old-host', reason: 'removed before etcd' });
  a = await EtcdStore.open({ urls: etcd.urls, prefix, log: silentLogger() });
  b = await EtcdStore.open({ urls: etcd.urls, prefix, log: silentLogger() });
  ta = a.sharedTrust(fleet.trust, silentLogger());
  tb = b.sharedTrust(fleet.trust, silentLogger());
});

after(async () => {
  a?.close();
  b?.close();
  fleet?.cleanup();
  await etcd?.stop();
});

test('a join token issued through one controller is taken once, through either, by its own host', async () => {
  const t1 = await ta.tokens.issue('h1');
  issuedTokens.push(t1.token);
  assert.equal(await tb.tokens.consume(t1.token, 'h1'), 'h1');
  await assert.rejects(ta.tokens.consume(t1.token, 'h1'), /unknown or already used/);
  // a try for another host is refused through either, naming the token's host, and uses nothing up
  const t2 = await ta.tokens.issue('h1b');
  issuedTokens.push(t2.token);
  await assert.rejects(tb.tokens.consume(t2.token, 'h9'), /made for host h1b, not h9/);
  assert.equal(await ta.tokens.consume(t2.token, 'h1b'), 'h1b');
  for (let i = 0; i < 5; i++) {
    const t = await tb.tokens.issue(`race${i}`);
    issuedTokens.push(t.token);
    const r = await Promise.allSettled([
      ta.tokens.consume(t.token, `race${i}`),
      tb.tokens.consume(t.token, `race${i}`),
    ]);
    assert.equal(r.filter((x) => x.status === 'fulfilled').length, 1, `token ${i}: exactly one enrollment wins`);
  }
});

test('a serial issued through one controller is revoked through the other, and every controller knows', async () => {
  ta.issued.record('h2', { serial: 'CAFE01', notAfterMs: Date.now() + 3_600_000, atMs: Date.now() });
  await waitFor('the issued serial reaches the other controller', () => tb.issued.list('h2').length === 1);
  assert.deepEqual([ta.issued.ownerOf('cafe01'), tb.issued.ownerOf('CAFE01')], ['h2', 'h2'], 'whose serial it is');
  assert.deepEqual(revokeHost(tb, 'h2', 'host rm'), ['CAFE01']);
  assert.ok(tb.revocations.isRevoked('cafe01'), 'revoked at once where it was revoked');
  await waitFor('the revocation reaches the first controller', () => ta.revocations.isRevoked('CAFE01'));
  assert.ok(ta.revocations.list().some((e) => e.serial === 'cafe01' && e.reason === 'host rm'));
  const both = (serial: string) => ta.revocations.isRevoked(serial) && tb.revocations.isRevoked(serial);
  await waitFor("the folder's revocation is in etcd", () => both('ab01'));
  tb.issued.forget('h2');
  await waitFor('forgotten everywhere', () => ta.issued.list('h2').length === 0);
});

test('a CLI credential issued through one controller is revoked through the other; both refuse it', async () => {
  const admin = (trust: Trust) => adminService({ trust, store: {} as Store, log: silentLogger() });
  const csrPem = await makeCsr(await generateKeyPair(), 'alice');
  const c = await callHandler<{ certPem: string; serial: string }>(admin(ta), 'issueClientCert', {
    user: 'alice',
    csrPem,
  });
  await waitFor('its serial reaches the other controller', () => tb.issued.list(cliSubject('alice')).length === 1);
  const req = { user: 'alice', reason: 'laptop lost', serial: '' };
  assert.equal(tb.issued.ownerOf(c.serial), cliSubject('alice'));
  const one = { ...req, serial: c.serial };
  await assert.rejects(callHandler(admin(tb), 'revokeClientCerts', { ...one, user: 'bob' }), /CLI user alice's/);
  assert.deepEqual(await callHandler(admin(tb), 'revokeClientCerts', req), { serials: [c.serial], unrecorded: false });
  await waitFor('the revocation reaches the first controller', () => ta.revocations.isRevoked(c.serial));
  const peer = new X509Certificate(c.certPem).toLegacyObject();
  for (const t of [ta, tb]) {
    const o = { isRevoked: (s: string) => t.revocations.isRevoked(s) };
    assert.throws(() => checkPeer({ kind: 'roles', roles: ['cli'] }, peer, o), /of cli alice is revoked/);
  }
});

test('etcd holds no CA key and no token in the clear', async () => {
  const c = new Etcd3({ hosts: etcd.urls });
  try {
    const all = await c.getAll().prefix(prefix).strings();
    const text = Object.entries(all)
      .map(([k, v]) => `${k}\n${v}`)
      .join('\n');
    assert.ok(
      Object.keys(all).some((k) => k.includes('/d/trust/revoked/')),
      'the trust records are there',
    );
    assert.doesNotMatch(text, /PRIVATE KEY/, 'no private key');
    assert.ok(!text.includes(fleet.trust.ca.certPem.split('\n')[1]!), 'not even the CA certificate');
    for (const t of issuedTokens) assert.ok(!text.includes(t), 'no join token in the clear');
  } finally {
    c.close();
  }
});
