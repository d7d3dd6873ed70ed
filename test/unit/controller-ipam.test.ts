// IPAM, MACs and attach decisions over a real SQLite store in a temporary folder.
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { test } from 'node:test';
import { parseAttachArgs } from '../../common/attach-args.js';
import { FleetnetError } from '../../common/errors.js';
import { addHost, removeHost } from '../../controller/fleet/hosts.js';
import { parseHostId } from '../../common/pki/identity.js';
import { createNetwork, removeNetwork } from '../../controller/fleet/networks.js';
import {
  attachmentIdOf,
  decideAttach,
  decideDetach,
  finishDetach,
  markUp,
  type FleetAttachInput,
} from '../../controller/fleet/attachments.js';
import { buildNetwork } from '../../controller/ipam/network-spec.js';
import { pooledRandom } from '../../controller/mac/allocate.js';
import { SqliteStore } from '../../controller/store/sqlite.js';
import { storeKind, tempStore } from '../helpers/controller-store.js';

const kindOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return e instanceof FleetnetError ? e.kind : 'other';
  }
  return 'none';
};

function input(words: string[], o: Partial<FleetAttachInput> & { host: string }): FleetAttachInput {
  const a = parseAttachArgs(words, o.net ? { net: o.net } : {});
  return { ifname: 'eth1', target: a.target, addresses: a.addresses, mac: a.mac, ...o };
}

async function fleet(t: Parameters<typeof tempStore>[0]) {
  const s = tempStore(t);
  await s.store.transact((tx) => {
    addHost(tx, { name: 'h1', agentAddr: '10.99.1.11' }, 1);
    addHost(tx, { name: 'h2', agentAddr: '10.99.2.12:7500' }, 1);
    createNetwork(tx, { name: 'blue', subnets: ['10.1.1.0/24', 'fd00:1::/64'], gateways: ['10.1.1.1'] }, 1);
    createNetwork(
      tx,
      { name: 'red', subnets: ['10.2.0.0/29'], ipamRanges: [{ start: '10.2.0.2', end: '10.2.0.4' }] },
      1,
    );
  });
  return s;
}

test('network specs are validated: name length for the default bridge, host bits, gateways, ranges', () => {
  assert.equal(buildNetwork({ name: 'blue', subnets: ['10.1.1.0/24'] }, 0).bridge, 'br-blue');
  assert.equal(
    kindOf(() => buildNetwork({ name: 'averylongname1', subnets: ['10.1.1.0/24'] }, 0)),
    'invalid',
  );
  assert.equal(buildNetwork({ name: 'averylongname1', subnets: ['10.1.1.0/24'], bridge: 'brx' }, 0).bridge, 'brx');
  assert.equal(
    kindOf(() => buildNetwork({ name: 'Blue!', subnets: ['10.1.1.0/24'] }, 0)),
    'invalid',
  );
  assert.equal(
    kindOf(() => buildNetwork({ name: 'b', subnets: ['10.1.1.5/24'] }, 0)),
    'invalid',
  );
  assert.equal(
    kindOf(() => buildNetwork({ name: 'b', subnets: ['10.1.1.0/24'], gateways: ['10.1.1.255'] }, 0)),
    'invalid',
  );
  assert.equal(
    kindOf(() => buildNetwork({ name: 'b', subnets: ['10.1.1.0/24'], gateways: ['10.1.2.1'] }, 0)),
    'invalid',
  );
  assert.equal(
    kindOf(() =>
      buildNetwork({ name: 'b', subnets: ['10.1.1.0/24'], ipamRanges: [{ start: '10.1.1.9', end: '10.1.1.3' }] }, 0),
    ),
    'invalid',
  );
  assert.equal(
    kindOf(() => buildNetwork({ name: 'b', subnets: ['10.1.1.0/24', '10.3.0.0/16'] }, 0)),
    'invalid',
  );
  assert.equal(
    kindOf(() => buildNetwork({ name: 'b', subnets: ['10.1.1.0/24'], kind: 'macvlan' }, 0)),
    'invalid',
  );
});

test('static address: reserved fleet-wide, refused naming the holder, network found from the address', async (t) => {
  const { store } = await fleet(t);
  const a = await store.transact((tx) => decideAttach(tx, input(['web1', '10.1.1.50/24'], { host: 'h2' }), 2));
  assert.equal(a.attachment.net, 'blue');
  assert.equal(a.attachment.hostIf, 'br-blue');
  assert.deepEqual(a.attachment.addresses, [{ cidr: '10.1.1.50/24' }]);
  await assert.rejects(
    store.transact((tx) => decideAttach(tx, input(['web2', '10.1.1.50/24'], { host: 'h1' }), 3)),
    (e: FleetnetError) => e.kind === 'conflict' && /web1 \(eth1\) on host h2/.test(e.message),
  );
  // The same attach again is the same attachment: nothing new is reserved.
  const again = await store.transact((tx) => decideAttach(tx, input(['web1', '10.1.1.50/24'], { host: 'h2' }), 4));
  assert.equal(again.created, false);
  assert.equal(again.attachment.mac, a.attachment.mac);
  // The same container with other settings is refused.
  await assert.rejects(
    store.transact((tx) => decideAttach(tx, input(['web1', '10.1.1.51/24'], { host: 'h2' }), 5)),
    (e: FleetnetError) => e.kind === 'conflict',
  );
  for (const [words, why] of [
    [['w', '10.1.1.0/24'], /network address/],
    [['w', '10.1.1.255/24'], /broadcast/],
    [['w', '10.1.1.1/24'], /gateway/],
    [['w', '10.1.1.7/16'], /prefix/],
    [['w', '10.9.9.9/24'], /no network holds/],
  ] as const) {
    await assert.rejects(
      store.transact((tx) => decideAttach(tx, input([...words], { host: 'h1' }), 6)),
      (e: FleetnetError) => why.test(e.message) && (e.kind === 'invalid' || e.kind === 'not_found'),
    );
  }
  await assert.rejects(
    store.transact((tx) => decideAttach(tx, input(['w', '10.1.1.9/24'], { host: 'nope' }), 6)),
    (e: FleetnetError) => e.kind === 'not_found',
  );
  await assert.rejects(
    store.transact((tx) => decideAttach(tx, input(['w', '10.1.1.9/24'], { host: 'h1', net: 'red' }), 6)),
    (e: FleetnetError) => e.kind === 'invalid',
  );
});

test(
  'allocation: dual stack, skips network, gateway and taken addresses, stays in the IPAM range, ' + 'then runs out',
  async (t) => {
    const { store } = await fleet(t);
    await store.transact((tx) => decideAttach(tx, input(['s', '10.1.1.2/24'], { host: 'h1' }), 1));
    const got = [];
    for (const name of ['a', 'b'])
      got.push(
        (
          await store.transact((tx) => decideAttach(tx, input([name], { host: 'h1', net: 'blue' }), 1))
        ).attachment.addresses.map((x) => x.cidr),
      );
    assert.deepEqual(got, [
      ['10.1.1.3/24', 'fd00:1::1/64'],
      ['10.1.1.4/24', 'fd00:1::2/64'],
    ]);
    const red = [];
    for (const name of ['r1', 'r2', 'r3'])
      red.push(
        (await store.transact((tx) => decideAttach(tx, input([name], { host: 'h1', net: 'red' }), 1))).attachment
          .addresses[0]!.cidr,
      );
    assert.deepEqual(red, ['10.2.0.2/29', '10.2.0.3/29', '10.2.0.4/29']);
    await assert.rejects(
      store.transact((tx) => decideAttach(tx, input(['r4'], { host: 'h1', net: 'red' }), 1)),
      (e: FleetnetError) => e.kind === 'conflict' && /no free IPv4/.test(e.message),
    );
    // A failed decision leaves nothing behind (the transaction rolled back).
    assert.equal(
      await store.read((tx) => tx.getAttachment(attachmentIdOf('h1', { kind: 'auto', value: 'r4' }, 'eth1'))),
      undefined,
    );
    // Detach releases: after the agent confirms, the address is free again and wraps around.
    const d = await store.transact((tx) => decideDetach(tx, { host: 'h1', target: { kind: 'auto', value: 'r2' } }, 2));
    assert.equal(d.attachment?.state, 'detaching');
    assert.equal(await store.transact((tx) => finishDetach(tx, d.attachment!.id, d.attachment!.generation)), true);
    const r5 = await store.transact((tx) => decideAttach(tx, input(['r5'], { host: 'h1', net: 'red' }), 3));
    assert.equal(r5.attachment.addresses[0]!.cidr, '10.2.0.3/29');
  },
);

test('MACs: XX:IP:IP:IP:YY:ZZ from the host underlay, U:/explicit unique per network', async (t) => {
  const { store } = await fleet(t);
  const a = (await store.transact((tx) => decideAttach(tx, input(['m1', '10.1.1.10/24'], { host: 'h2' }), 1)))
    .attachment;
  assert.match(a.mac, /^[0-9a-f][26ae]:63:02:0c:[0-9a-f]{2}:[0-9a-f]{2}$/); // 10.99.2.12 → 63:02:0c
  assert.equal(parseInt(a.mac.slice(0, 2), 16) & 3, 2);
  const u = (
    await store.transact((tx) => decideAttach(tx, input(['m2', '10.1.1.11/24', 'U:myhost.foo.com'], { host: 'h1' }), 1))
  ).attachment;
  assert.equal(u.mac, '02:72:6c:cd:9b:8d');
  await assert.rejects(
    store.transact((tx) => decideAttach(tx, input(['m3', '10.1.1.12/24', 'U:myhost.foo.com'], { host: 'h2' }), 1)),
    (e: FleetnetError) => e.kind === 'conflict' && /m2/.test(e.message),
  );
  await assert.rejects(
    store.transact((tx) => decideAttach(tx, input(['m3', '10.1.1.12/24', a.mac], { host: 'h2' }), 1)),
    (e: FleetnetError) => e.kind === 'conflict',
  );
  // Another network is another layer-2 domain: the same U: MAC is allowed there.
  const r = (
    await store.transact((tx) => decideAttach(tx, input(['m4', '10.2.0.2/29', 'U:myhost.foo.com'], { host: 'h2' }), 1))
  ).attachment;
  assert.equal(r.mac, u.mac);
});

test('generated MACs never repeat, even when the random source does', async (t) => {
  const { store } = await fleet(t);
  const { allocateMac } = await import('../../controller/mac/allocate.js');
  let calls = 0;
  const rand = (n: number) => Buffer.alloc(n, calls++ < 2 ? 7 : calls); // the first two draws are equal
  const m = await store.transact((tx) =>
    [1, 2].map(
      (i) =>
        allocateMac(tx, { net: 'blue', underlayIp: '10.99.1.11', spec: { kind: 'auto' }, owner: `o${i}` }, rand).mac,
    ),
  );
  assert.notEqual(m[0], m[1]);
});

test('hosts and networks: removal refused while attachments exist; the store survives a reopen', async (t) => {
  const { store, reopen } = await fleet(t);
  const a = (await store.transact((tx) => decideAttach(tx, input(['k1', '10.1.1.20/24'], { host: 'h1' }), 1)))
    .attachment;
  await store.transact((tx) =>
    markUp(tx, a.id, a.generation, { mac: a.mac, addresses: ['10.1.1.20/24'], hostIfname: 'fnabc' }, 2),
  );
  await assert.rejects(
    store.transact((tx) => removeNetwork(tx, 'blue')),
    (e: FleetnetError) => e.kind === 'conflict',
  );
  await assert.rejects(
    store.transact((tx) => removeHost(tx, 'h1', false)),
    (e: FleetnetError) => e.kind === 'conflict',
  );
  await assert.rejects(
    store.transact((tx) => addHost(tx, { name: 'h3', agentAddr: '10.99.1.11' }, 1)),
    (e: FleetnetError) => e.kind === 'conflict',
  );
  await assert.rejects(
    store.transact((tx) => addHost(tx, { name: 'bad name', agentAddr: '10.0.0.1' }, 1)),
    (e: FleetnetError) => e.kind === 'invalid',
  );
  // the same name again with other settings: the refusal names what differs, not what matches
  await assert.rejects(
    store.transact((tx) => createNetwork(tx, { name: 'blue', subnets: ['10.1.1.0/24', 'fd00:1::/64'] }, 1)),
    (e: FleetnetError) => e.kind === 'conflict' && /other settings: gateways 10\.1\.1\.1 \(asked: -\)$/.test(e.message),
  );
  store.close();
  const again = await reopen();
  const b = await again.read((tx) => tx.getAttachment(a.id));
  assert.equal(b?.state, 'up');
  assert.equal(await again.read((tx) => tx.addressHolder('blue', '10.1.1.20')), a.id);
  const json = JSON.parse(await again.attachmentsJson({ host: 'h1' })) as { container: string; addresses: string[] }[];
  assert.deepEqual(
    json.map((x) => [x.container, x.addresses]),
    [['k1', ['10.1.1.20/24']]],
  );
  await again.transact((tx) => removeHost(tx, 'h1', true));
  assert.equal(await again.read((tx) => tx.addressHolder('blue', '10.1.1.20')), undefined);
});

test('group commit: decisions arriving together commit together, a refused one rolls back alone', async (t) => {
  const { store } = await fleet(t);
  assert.equal(await store.attachmentsJson(), '[]'); // the in-memory inventory is built now, then kept in step
  const results = await Promise.allSettled([
    store.transact((tx) => decideAttach(tx, input(['g1', '10.1.1.30/24'], { host: 'h1' }), 1)),
    store.transact((tx) => {
      decideAttach(tx, input(['g2', '10.1.1.31/24'], { host: 'h1' }), 1); // written, then the same decision throws
      return decideAttach(tx, input(['g2b', '10.1.1.30/24'], { host: 'h1' }), 1);
    }),
    store.transact((tx) => decideAttach(tx, input(['g3', '10.1.1.32/24'], { host: 'h1' }), 1)),
  ]);
  assert.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'rejected', 'fulfilled'],
  );
  const held = await store.read((tx) =>
    ['10.1.1.30', '10.1.1.31', '10.1.1.32'].map((a) => tx.addressHolder('blue', a) !== undefined),
  );
  assert.deepEqual(held, [true, false, true], 'the refused decision left nothing behind, not even its first half');
  const inventory = (JSON.parse(await store.attachmentsJson()) as { container: string }[])
    .map((x) => x.container)
    .sort();
  assert.deepEqual(inventory, ['g1', 'g3']);
  const g1 = await store.read((tx) => tx.listAttachments().find((a) => a.target.value === 'g1')!);
  // The group ran again with the refused decision in a savepoint: a caller hears what was committed
  // (the MAC is random, so a reply from the rolled-back first run would differ).
  const r0 = results[0] as PromiseFulfilledResult<{ attachment: { mac: string } }>;
  assert.equal(r0.value.attachment.mac, g1.mac);
  // The ids and MAC holders kept in memory followed the rollbacks too.
  const g2id = attachmentIdOf('h1', { kind: 'auto', value: 'g2' }, 'eth1');
  assert.equal(await store.read((tx) => tx.getAttachment(g2id)), undefined);
  const g3 = await store.read((tx) => tx.listAttachments().find((a) => a.target.value === 'g3')!);
  assert.deepEqual(await store.read((tx) => [tx.macHolder('fleet', g1.mac), tx.macHolder('fleet', g3.mac)]), [
    g1.id,
    g3.id,
  ]);
  const d = await store.transact((tx) => decideDetach(tx, { id: g1.id }, 2));
  assert.equal(await store.transact((tx) => finishDetach(tx, g1.id, d.attachment!.generation)), true);
  assert.deepEqual(
    (JSON.parse(await store.attachmentsJson()) as { container: string }[]).map((x) => x.container),
    ['g3'],
  );
  assert.deepEqual(await store.read((tx) => [tx.getAttachment(g1.id), tx.macHolder('fleet', g1.mac)]), [
    undefined,
    undefined,
  ]);
});

test(
  'a state file of the first layout (attachments keyed by id, addresses and macs tables) is migrated on open',
  { skip: storeKind() === 'etcd' && 'a SQLite file layout (run by the SQLite variant of this file)' },
  async (t) => {
    const { store, path } = await fleet(t);
    const a = (await store.transact((tx) => decideAttach(tx, input(['m1', '10.1.1.40/24'], { host: 'h1' }), 1)))
      .attachment;
    const u = (await store.transact((tx) => decideAttach(tx, input(['m2', '10.1.1.41/24', 'U:m2'], { host: 'h1' }), 1)))
      .attachment;
    store.close();
    // Back to the first layout, as a controller before this change wrote it.
    const old = new Database(path);
    old.exec(`CREATE TABLE a1 (id TEXT PRIMARY KEY, host TEXT NOT NULL, net TEXT NOT NULL, data TEXT NOT NULL,
      view TEXT NOT NULL);
    INSERT INTO a1 SELECT id, host, net, data, view FROM attachments; DROP TABLE attachments;
    ALTER TABLE a1 RENAME TO attachments;
    CREATE TABLE macs (scope TEXT NOT NULL, mac TEXT NOT NULL, attachment_id TEXT NOT NULL,
      PRIMARY KEY (scope, mac)) WITHOUT ROWID;
    CREATE TABLE addresses (net TEXT NOT NULL, addr TEXT NOT NULL, attachment_id TEXT NOT NULL,
      PRIMARY KEY (net, addr)) WITHOUT ROWID;`);
    old.prepare('INSERT INTO addresses VALUES (?, ?, ?)').run('blue', '10.1.1.40', a.id);
    old.prepare('INSERT INTO addresses VALUES (?, ?, ?)').run('blue', '10.1.1.41', u.id);
    old.prepare('INSERT INTO macs VALUES (?, ?, ?)').run('fleet', a.mac, a.id);
    old.prepare('INSERT INTO macs VALUES (?, ?, ?)').run('net:blue', u.mac, u.id);
    old.close();
    const again = new SqliteStore({ path });
    t.after(() => again.close());
    assert.equal((await again.read((tx) => tx.getAttachment(a.id)))?.mac, a.mac);
    assert.deepEqual(
      await again.read((tx) => [
        tx.macHolder('fleet', a.mac),
        tx.macHolder('net:blue', u.mac),
        tx.macHolder('fleet', u.mac),
      ]),
      [a.id, u.id, undefined],
    );
    assert.deepEqual(
      await again.read((tx) => [
        tx.addressHolder('blue', '10.1.1.40'),
        tx.addressHolder('blue', '10.1.1.41'),
        tx.addressHolder('blue', '10.1.1.42'),
      ]),
      [a.id, u.id, undefined],
    );
    await assert.rejects(
      again.transact((tx) => decideAttach(tx, input(['m5', '10.1.1.40/24'], { host: 'h1' }), 1)),
      (e: FleetnetError) => e.kind === 'conflict' && /taken by m1/.test(e.message),
    );
    await assert.rejects(
      again.transact((tx) => decideAttach(tx, input(['m3', '10.1.1.42/24', 'U:m2'], { host: 'h1' }), 1)),
      (e: FleetnetError) => e.kind === 'conflict',
    );
    const m4 = (await again.transact((tx) => decideAttach(tx, input(['m4', '10.1.1.43/24'], { host: 'h1' }), 1)))
      .attachment;
    assert.equal(await again.read((tx) => tx.macHolder('fleet', m4.mac)), m4.id);
    const raw = new Database(path, { readonly: true });
    t.after(() => raw.close());
    assert.ok(
      (raw.prepare("SELECT name FROM pragma_table_info('attachments')").pluck().all() as string[]).includes('seq'),
    );
    assert.equal(
      raw.prepare("SELECT count(*) FROM sqlite_master WHERE name IN ('macs', 'addresses')").pluck().get(),
      0,
    );
  },
);

test('pooledRandom hands out each pooled byte once, across refills and for requests larger than the pool', () => {
  const rand = pooledRandom(8);
  const parts = [rand(3), rand(3), rand(3), rand(20), rand(1)];
  assert.deepEqual(
    parts.map((b) => b.length),
    [3, 3, 3, 20, 1],
  );
  assert.notDeepEqual(parts[0], parts[1]); // 24 random bits alike: one chance in 16 million
  const many = new Set(Array.from({ length: 2000 }, () => rand(3).toString('hex')));
  assert.ok(many.size > 1990, `random 3-byte draws repeat too often: ${many.size} distinct of 2000`);
});

test('with a CA a new host needs a name a certificate can carry; one registered before is found', async (t) => {
  const { store } = tempStore(t);
  const strict = (name: string) => void parseHostId(name);
  // Registered while the controller had no CA: letters of both cases are host names there.
  await store.transact((tx) => addHost(tx, { name: 'Web1', agentAddr: '10.0.0.1' }, 1));
  const again = await store.transact((tx) => addHost(tx, { name: 'Web1', agentAddr: '10.0.0.1' }, 2, strict));
  assert.equal(again.created, false, 'the same host, same address: found, not refused');
  for (const name of ['Web2', 'web-', 'a..b'])
    await assert.rejects(
      store.transact((tx) => addHost(tx, { name, agentAddr: '10.0.0.2' }, 1, strict)),
      (e: FleetnetError) => e.kind === 'invalid' && /not usable/.test(e.message),
      name,
    );
  const ok = await store.transact((tx) => addHost(tx, { name: 'web-2.dc1', agentAddr: '10.0.0.2' }, 1, strict));
  assert.equal(ok.created, true);
  assert.deepEqual((await store.read((tx) => tx.listHosts())).map((h) => h.name).sort(), ['Web1', 'web-2.dc1']);
});
