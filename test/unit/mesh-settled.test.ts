// An ApplyMesh after a clean pass runs only the difference from the spec that pass left (nothing
// read back); the periodic pass still reads back what the spec has (the kernel's tunnels and firewall
// only while it wants some or the last read found some left), and a pass with an error is never
// trusted. Through a FakeRunner: the exact commands a joining peer costs an existing member.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { silentLogger } from '../../common/logger.js';
import { FakeRunner, type RecordedCall } from '../../common/runner.js';
import { Mesher } from '../../agent/mesh/mesher.js';
import type { MeshSpec } from '../../agent/mesh/spec.js';
import { OvsTunnels } from '../../agent/mesh/ovs-tunnels.js';
import { planMesh } from '../../common/mesh/plan.js';

const DB = 'unix:/run/x/db.sock';
const hosts = [1, 2, 3, 4].map((i) => ({ name: `h${i}`, underlayIp: `10.99.0.${10 + i}` }));
const dir = mkdtempSync(join(tmpdir(), 'fleetnet-mesh-settled-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** h1's part of the blue mesh with these members. */
function specOf(generation: number, members: string[]): MeshSpec {
  const nets = [{ name: 'blue', kind: 'ovs' as const, encap: 'gre' as const, key: 100, bridge: 'ovs-blue', members }];
  return { generation, networks: planMesh(hosts, nets)[0]!.networks };
}

/** `ovs-vsctl list` of a database holding ovs-blue with no ports (the first pass reads this). */
const EMPTY_BLUE =
  [
    {
      headings: ['name', 'ports', 'datapath_type', 'datapath_id'],
      data: [['ovs-blue', ['set', []], 'netdev', '0001']],
    },
    { headings: ['_uuid', 'name', 'external_ids'], data: [] },
    { headings: ['name', 'type', 'options', 'bfd_status'], data: [] },
  ]
    .map((x) => JSON.stringify(x))
    .join('\n') + '\n';

/** `ip -json -d link show` listing one kernel tunnel device an earlier spec's bridge network left. */
const LEFTOVER = JSON.stringify([
  { ifname: 'fvold', ifalias: 'fleetnet-mesh:green', linkinfo: { info_kind: 'vxlan', info_data: { id: 7 } } },
]);

function mesher(failAdd: () => boolean = () => false, links: () => string = () => '[]', failDel = () => false) {
  const r = new FakeRunner((c) => {
    if (c.cmd === 'ovs-vsctl' && c.args.includes('list')) return { stdout: EMPTY_BLUE };
    if (c.cmd === 'ovs-vsctl' && c.args.includes('add-port') && failAdd()) return { code: 1, stderr: 'boom' };
    // ovsdb-client transact answers one result per operation; a failed one makes the agent try ovs-vsctl.
    if (c.cmd === 'ovsdb-client') return { stdout: failAdd() ? '[{"error":"timed out"}]' : '[{}]' };
    if (c.cmd === 'ip' && c.args[0] === '-json') return { stdout: links() };
    if (c.cmd === 'ip' && c.args.includes('del') && failDel()) return { code: 1, stderr: 'busy' };
    if (c.cmd === 'bridge') return { stdout: '[]' };
    if (c.cmd === 'nft') return { code: 1 };
    return {};
  });
  const m = new Mesher({
    runner: r,
    ovsDb: DB,
    stateDir: mkdtempSync(join(dir, 'a-')),
    log: silentLogger(),
    hasGretap: async () => false,
  });
  return { r, m };
}

const summary = (c: RecordedCall) =>
  `${c.cmd} ${c.args
    .filter((a) => !a.startsWith('--db='))
    .slice(0, 4)
    .join(' ')}`;

test('a joining peer costs an existing member one ovsdb-client transact (its port), nothing read back', async () => {
  const { r, m } = mesher();
  const first = await m.apply(specOf(1, ['h1', 'h2', 'h3']));
  assert.deepEqual([first.added.length, first.errors], [2, []]);
  // The first pass reads back: OVS, kernel links, flood entries, firewall.
  assert.ok(r.calls.some((c) => c.cmd === 'ovs-vsctl' && c.args.includes('list')));
  assert.ok(r.calls.some((c) => c.cmd === 'ip') && r.calls.some((c) => c.cmd === 'nft'));

  r.calls.length = 0;
  const join4 = await m.apply(specOf(2, ['h1', 'h2', 'h3', 'h4']));
  const port4 = specOf(2, ['h1', 'h4']).networks[0]!.tunnels[0]!;
  assert.deepEqual(
    r.calls.map((c) => [c.cmd, ...c.args]),
    [['ovsdb-client', ...new OvsTunnels({ runner: r, ovsDb: DB }).addTxnArgs([port4])]],
  );
  assert.deepEqual([join4.added.map((t) => t.peer), join4.removed, join4.kept, join4.changes], [['h4'], [], 2, 1]);

  // The same plan under a newer generation (the controller's periodic push): no command at all.
  r.calls.length = 0;
  const same = await m.apply(specOf(3, ['h1', 'h2', 'h3', 'h4']));
  assert.deepEqual([r.calls.length, same.kept, same.changes, same.generation], [0, 3, 0, 3]);

  // Two peers leave: one transaction removes both ports.
  r.calls.length = 0;
  const left = await m.apply(specOf(4, ['h1', 'h2']));
  assert.deepEqual(r.calls.map(summary), ['ovs-vsctl --timeout=10 --if-exists del-port ovs-blue']);
  assert.equal(r.calls[0]!.args.filter((a) => a === 'del-port').length, 2);
  assert.deepEqual([left.removed.map((t) => t.peer).sort(), left.kept, left.changes], [['h3', 'h4'], 1, 1]);

  // The periodic pass reads OVS back (and here finds the port gone from this fake database: adds it). Not the
  // kernel: this spec wants no kernel tunnel, and the first pass read that none (and no firewall) was left.
  r.calls.length = 0;
  const pass = await m.reconcile();
  assert.ok(r.calls.some((c) => c.cmd === 'ovs-vsctl' && c.args.includes('list')));
  assert.deepEqual(
    r.calls.filter((c) => !c.cmd.startsWith('ovs')),
    [],
  );
  assert.deepEqual(
    pass.added.map((t) => t.peer),
    ['h2'],
  );
});

test('after a pass with an error the next ApplyMesh reads back again', async () => {
  let fail = true;
  const { r, m } = mesher(() => fail);
  const bad = await m.apply(specOf(1, ['h1', 'h2']));
  assert.equal(bad.errors.length, 1);
  fail = false;
  r.calls.length = 0;
  const ok = await m.apply(specOf(2, ['h1', 'h2']));
  assert.deepEqual([ok.added.map((t) => t.peer), ok.errors], [['h2'], []]);
  assert.ok(
    r.calls.some((c) => c.cmd === 'ovs-vsctl' && c.args.includes('list')),
    'read back after a failure',
  );
  // Clean now: the same plan again costs nothing.
  r.calls.length = 0;
  await m.apply(specOf(3, ['h1', 'h2']));
  assert.deepEqual(r.calls, []);
});

test('a new network on a bridge no settled tunnel was on: read back first (it may have to be made)', async () => {
  const { r, m } = mesher();
  await m.apply({ generation: 1, networks: [] });
  r.calls.length = 0;
  await m.apply(specOf(2, ['h1', 'h2']));
  assert.ok(r.calls.some((c) => c.cmd === 'ovs-vsctl' && c.args.includes('list')));
});

test('a kernel tunnel left behind: the periodic pass reads the kernel until it is gone, then OVS only', async () => {
  let links = LEFTOVER;
  let refuse = true;
  const { r, m } = mesher(
    () => false,
    () => links,
    () => refuse,
  );
  // An OVS-only spec; the device an earlier bridge network left cannot be deleted yet (the fake refuses).
  const first = await m.apply(specOf(1, ['h1', 'h2']));
  assert.deepEqual(
    first.errors.map((e) => e.network),
    ['green'],
  );
  const deletes = () => r.calls.filter((c) => c.cmd === 'ip' && c.args.includes('del') && c.args.includes('fvold'));
  assert.equal(deletes().length, 1);

  // Not clean: the next periodic pass reads the kernel again and this time deletes the device.
  refuse = false;
  r.calls.length = 0;
  const again = await m.reconcile();
  assert.deepEqual([deletes().length, again.errors], [1, []]);
  links = '[]';
  // That pass found nothing left: the next ones read OVS only.
  for (let i = 0; i < 2; i++) {
    r.calls.length = 0;
    await m.reconcile();
    assert.ok(r.calls.some((c) => c.cmd === 'ovs-vsctl' && c.args.includes('list')));
    assert.deepEqual(
      r.calls.filter((c) => !c.cmd.startsWith('ovs')),
      [],
    );
  }
});

test('a spec with a Linux-bridge network: every periodic pass reads the kernel', async () => {
  const { r, m } = mesher();
  const nets = [
    { name: 'green', kind: 'bridge' as const, encap: 'vxlan' as const, key: 7, bridge: 'brg', members: ['h1', 'h2'] },
  ];
  await m.apply({ generation: 1, networks: planMesh(hosts, nets)[0]!.networks });
  for (let i = 0; i < 2; i++) {
    r.calls.length = 0;
    await m.reconcile();
    assert.ok(r.calls.some((c) => c.cmd === 'ip' && c.args[0] === '-json'));
  }
});

test('a first pass wanting no kernel tunnel removes the kernel leftovers beside the OVS pass, not after', async () => {
  const { r, m } = mesher(
    () => false,
    () => LEFTOVER,
  );
  // OVS's port transaction is held until the kernel's leftover device has been deleted (2 s at most: were the
  // two parts run in turn, the delete would come only after the add).
  const order: string[] = [];
  let deleted!: () => void;
  const gone = new Promise<void>((resolve) => (deleted = resolve));
  const run = r.run.bind(r);
  r.run = async (cmd, args, opts) => {
    if (cmd === 'ovsdb-client' && args.includes('transact'))
      await Promise.race([gone, new Promise((resolve) => setTimeout(resolve, 2000))]);
    const res = await run(cmd, args, opts);
    if (cmd === 'ip' && args.includes('del') && args.includes('fvold')) {
      order.push('kernel leftover deleted');
      deleted();
    }
    if (cmd === 'ovsdb-client' && args.includes('transact')) order.push('ovs port added');
    return res;
  };
  const first = await m.apply(specOf(1, ['h1', 'h2']));
  assert.deepEqual([first.added.map((t) => t.peer), first.errors], [['h2'], []]);
  assert.deepEqual(order, ['kernel leftover deleted', 'ovs port added']);
  // Both parts counted, and nothing left: the periodic pass reads OVS only.
  assert.equal(first.changes, 2);
  r.calls.length = 0;
  await m.reconcile();
  assert.deepEqual(
    r.calls.filter((c) => !c.cmd.startsWith('ovs')),
    [],
  );
});
