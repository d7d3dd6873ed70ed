// fleetnet controller migrate: a SQLite fleet to etcd and back is lossless (records and every
// address and MAC holder); a non-empty destination, a store of a newer fleetnet and bad flags are
// exit 2 with nothing written.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { parseAttachArgs } from '../../common/attach-args.js';
import { ExecRunner } from '../../common/runner.js';
import { decideAttach, decideDetach } from '../../controller/fleet/attachments.js';
import { addHost } from '../../controller/fleet/hosts.js';
import { createNetwork } from '../../controller/fleet/networks.js';
import { meshAdd } from '../../controller/mesh/fleet-mesh.js';
import { FileRevocationStore } from '../../common/pki/revocation.js';
import { initControllerDir, paths } from '../../controller/pki/controller-dir.js';
import { FileIssuedCerts } from '../../controller/pki/issued-certs.js';
import { FileJoinTokenStore } from '../../controller/pki/join-tokens.js';
import { readFleet, verifyCopy } from '../../controller/store/migrate.js';
import { folderTrust } from '../../controller/store/migrate-trust.js';
import { SqliteStore } from '../../controller/store/sqlite.js';
import { FLEETNET } from '../helpers/agent-process.js';
import { ensureBuilt } from '../helpers/build.js';
import { openEtcdStore, tempStore, useEtcdStores } from '../helpers/controller-store.js';
import { startTestEtcd, type TestEtcd } from '../helpers/etcd.js';

const sh = new ExecRunner();
let etcd: TestEtcd;
const P = `/fleetnet-migrate-${process.pid}`;

before(async () => {
  await ensureBuilt();
  etcd = await startTestEtcd(1);
});
after(async () => etcd?.stop());

const cli = (...args: string[]) =>
  sh.run('node', [FLEETNET, 'controller', 'migrate', ...args], { allowFail: true, timeoutMs: 60_000 });
const keysUnder = async (prefix: string) => {
  const c = new Etcd3({ hosts: etcd.urls });
  try {
    return (await c.getAll().prefix(prefix).keys()).length;
  } finally {
    c.close();
  }
};

test('SQLite → etcd → SQLite: the same fleet, verified; refusals write nothing', async (t) => {
  const { store, dir, path } = tempStore(t);
  const words = (w: string[], host: string, net?: string) => {
    const a = parseAttachArgs(w, net ? { net } : {});
    return { host, ifname: 'eth1', target: a.target, addresses: a.addresses, mac: a.mac, ...(net ? { net } : {}) };
  };
  await store.transact((tx) => {
    for (const i of [1, 2, 3])
      addHost(tx, { name: `h${i}`, agentAddr: `10.99.0.${10 + i}:7441`, underlayIp: `10.99.0.${10 + i}` }, 1);
    createNetwork(
      tx,
      {
        name: 'blue',
        subnets: ['10.1.1.0/24', 'fd00:1::/64'],
        gateways: ['10.1.1.1'],
        kind: 'ovs',
        bridge: 'ovs-blue',
        mesh: { encap: 'gre', key: 0 },
      },
      1,
    );
    createNetwork(tx, { name: 'red', subnets: ['10.2.0.0/24'] }, 1);
  });
  await store.transact((tx) => ['h1', 'h2'].forEach((h) => meshAdd(tx, 'blue', h)));
  for (let i = 0; i < 40; i++)
    await store.transact((tx) => decideAttach(tx, words([`c${i}`], `h${(i % 3) + 1}`, 'blue'), 2));
  await store.transact((tx) => decideAttach(tx, words(['s1', '10.2.0.9/24', 'U:s1'], 'h1'), 2));
  await store.transact((tx) => decideAttach(tx, words(['s2', 'dhcp'], 'h2', 'red'), 2));
  await store.transact((tx) =>
    decideDetach(tx, { host: 'h1', target: { kind: 'auto', value: 'c0' }, ifname: 'eth1' }, 3),
  );
  store.close();

  const noTrust = ['--trust-dir', join(dir, 'no-trust-folder')];
  const r1 = await cli('--from', path, '--etcd', etcd.urls.join(','), '--etcd-prefix', `${P}-a/`, '--json', ...noTrust);
  assert.equal(r1.code, 0, r1.stderr);
  assert.match(r1.stderr, /no trust folder at .*no-trust-folder.*were not copied/);
  assert.equal((JSON.parse(r1.stdout) as { trust: unknown }).trust, null);
  assert.equal((JSON.parse(r1.stdout) as { attachments: number }).attachments, 42);
  const back = join(dir, 'back.db');
  const r2 = await cli('--etcd', etcd.urls.join(','), '--etcd-prefix', `${P}-a/`, '--to', back, ...noTrust);
  assert.equal(r2.code, 0, r2.stderr);
  assert.match(r2.stdout, /copied and verified: 3 hosts, 2 networks, 42 attachments/);

  const a = new SqliteStore({ path });
  const b = new SqliteStore({ path: back });
  t.after(() => {
    a.close();
    b.close();
  });
  await verifyCopy(a, b);
  assert.deepEqual(await readFleet(b), await readFleet(a));

  // Into a fleet that exists: refused, exit 2, nothing changed.
  const before = await keysUnder(`${P}-a/`);
  const r3 = await cli('--from', path, '--etcd', etcd.urls.join(','), '--etcd-prefix', `${P}-a/`);
  assert.equal(r3.code, 2, r3.stderr);
  assert.match(r3.stderr, /already holds a fleet/);
  assert.equal(await keysUnder(`${P}-a/`), before);
  const r4 = await cli('--etcd', etcd.urls.join(','), '--etcd-prefix', `${P}-a/`, '--to', back);
  assert.equal(r4.code, 2);
  assert.match(r4.stderr, /exists/);

  // A store written by a newer fleetnet: exit 2, nothing written.
  const c = new Etcd3({ hosts: etcd.urls });
  await c.put(`${P}-new/meta/schema`).value('99');
  c.close();
  const r5 = await cli('--from', path, '--etcd', etcd.urls.join(','), '--etcd-prefix', `${P}-new/`);
  assert.equal(r5.code, 2, r5.stderr);
  assert.match(r5.stderr, /written by a newer fleetnet \(schema 99/);
  assert.equal(await keysUnder(`${P}-new/`), 1);

  // A --from file that is no state file: exit 2, at once, and etcd untouched (it wrote its schema key and hung).
  const junk = join(dir, 'junk.db');
  writeFileSync(junk, 'x\n');
  const r6 = await cli('--from', junk, '--etcd', etcd.urls.join(','), '--etcd-prefix', `${P}-junk/`);
  assert.equal(r6.code, 2, r6.stderr);
  assert.match(r6.stderr, /is not a fleetnet state file/);
  assert.equal(await keysUnder(`${P}-junk/`), 0);

  // Bad flags: exit 2 before anything is contacted.
  for (const bad of [
    ['--etcd', 'nope'],
    ['--etcd', 'ftp://1.2.3.4:1'],
    ['--etcd', 'https://127.0.0.1:1', '--etcd-ca', '/nonexistent/ca.crt'],
    ['--etcd', 'http://127.0.0.1:1', '--etcd-cert', path],
  ]) {
    const r = await cli('--from', path, ...bad);
    assert.equal(r.code, 2, `${bad.join(' ')}: ${r.stderr}`);
  }
  assert.equal(existsSync(join(dir, 'never.db')), false);
});

test('the etcd store keeps what the SQLite store keeps across a reopen (fresh mirror from etcd)', async (t) => {
  useEtcdStores(etcd.urls);
  const s = await openEtcdStore(`${P}-r/`);
  t.after(() => s.close());
  await s.transact((tx) => addHost(tx, { name: 'h1', agentAddr: '10.99.0.11:7441' }, 1));
  const again = await openEtcdStore(`${P}-r/`);
  t.after(() => again.close());
  assert.equal((await again.read((tx) => tx.getHost('h1')))?.agentAddr, '10.99.0.11:7441');
});

test('the trust records go with the fleet: tokens, issued serials and revocations, there and back', async (t) => {
  // A SQLite file of its own (tempStore gives etcd stores once a test called useEtcdStores).
  const dir = mkdtempSync(join(tmpdir(), 'fleetnet-trust-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'state.db');
  const store = new SqliteStore({ path });
  await store.transact((tx) => addHost(tx, { name: 'h1', agentAddr: '10.99.0.11:7441' }, 1));
  store.close();
  const folder = join(dir, 'controller');
  await initControllerDir(folder);
  const p = paths(folder);
  new FileRevocationStore(p.revoked).revoke({ serial: '0A01', name: 'h9', reason: 'host removed' });
  new FileIssuedCerts(p.certs).record('h1', { serial: 'b1', notAfterMs: Date.now() + 3_600_000, atMs: 1 });
  const tokens = new FileJoinTokenStore(p.tokens);
  await tokens.put({ hash: 'c'.repeat(64), hostId: 'h1', expiresAtMs: Date.now() + 3_600_000 });
  await tokens.put({ hash: 'd'.repeat(64), hostId: 'h2', expiresAtMs: Date.now() - 1 });
  // init put the admin CLI credential's serial on record: it goes with the fleet as a host's do
  const admin = folderTrust(folder).issued['cli:admin']!;
  assert.equal(admin.length, 1);

  const to = ['--etcd', etcd.urls.join(','), '--etcd-prefix', `${P}-t/`, '--trust-dir', folder];
  const r1 = await cli('--from', path, ...to, '--json');
  assert.equal(r1.code, 0, r1.stderr);
  assert.deepEqual((JSON.parse(r1.stdout) as { trust: unknown }).trust, { revoked: 1, issued: 2, tokens: 1 });
  const c = new Etcd3({ hosts: etcd.urls });
  t.after(() => c.close());
  const trustKeys = await c.getAll().prefix(`${P}-t/d/trust/`).keys();
  assert.deepEqual(trustKeys.sort(), [
    `${P}-t/d/trust/issued/cli%3Aadmin/${admin[0]!.serial}`,
    `${P}-t/d/trust/issued/h1/b1`,
    `${P}-t/d/trust/revoked/a01`,
    `${P}-t/d/trust/tokens/${'c'.repeat(64)}`,
  ]);

  // Revoked while the fleet ran on etcd: a SQLite controller after the way back must refuse it too.
  const late = { serial: 'e5', name: 'h1', reason: 'rotated', atMs: 2 };
  await c.put(`${P}-t/d/trust/revoked/e5`).value(JSON.stringify(late));
  const back = join(dir, 'back.db');
  const r2 = await cli(...to, '--to', back);
  assert.equal(r2.code, 0, r2.stderr);
  assert.match(r2.stdout, /trust records of .*: 2 revoked serials, 2 issued serials, 1 join tokens/);
  const revoked = new FileRevocationStore(p.revoked);
  assert.ok(revoked.isRevoked('e5') && revoked.isRevoked('a01'));
  assert.equal(revoked.list().length, 2);
  const after = folderTrust(folder);
  assert.deepEqual(after.issued, {
    'cli:admin': admin,
    h1: [{ serial: 'b1', notAfterMs: after.issued.h1![0]!.notAfterMs, atMs: 1 }],
  });
  assert.deepEqual(
    after.tokens.map((x) => x.hash),
    ['c'.repeat(64)],
  );
});
