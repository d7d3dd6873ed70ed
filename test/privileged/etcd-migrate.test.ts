// fleetnet controller migrate: a SQLite fleet to etcd and back is lossless (records and every
// address and MAC holder); a non-empty destination, a store of a newer fleetnet and bad flags are
// exit 2 with nothing written.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { parseAttachArgs } from '../../common/attach-args.js';
import { ExecRunner } from '../../common/runner.js';
import { decideAttach, decideDetach } from '../../controller/fleet/attachments.js';
import { addHost } from '../../controller/fleet/hosts.js';
import { createNetwork } from '../../controller/fleet/networks.js';
import { meshAdd } from '../../controller/mesh/fleet-mesh.js';
import { readFleet, verifyCopy } from '../../controller/store/migrate.js';
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

const cli = (...args: string[]) => sh.run('node', [FLEETNET, 'controller', 'migrate', ...args], { allowFail: true });
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

  const r1 = await cli('--from', path, '--etcd', etcd.urls.join(','), '--etcd-prefix', `${P}-a/`, '--json');
  assert.equal(r1.code, 0, r1.stderr);
  assert.equal((JSON.parse(r1.stdout) as { attachments: number }).attachments, 42);
  const back = join(dir, 'back.db');
  const r2 = await cli('--etcd', etcd.urls.join(','), '--etcd-prefix', `${P}-a/`, '--to', back);
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
