// A bridge shared by several attachments, through a FakeRunner (exact argv): one attach's --mtu stays its
// own (the bridge's MTU is the lowest of its ports'), and the attach that would break the others is refused.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { ContainerInfo } from '../../agent/containers/types.js';
import { FleetnetError } from '../../common/errors.js';
import type { AttachRequest } from '../../proto/gen/fleetnet/v1/agent.js';
import { show, fakeAttacher } from './parity-fixtures.js';

const vethLine = (calls: ReturnType<typeof fakeAttacher>['runner']['calls']) =>
  show(calls).find((l) => l.includes('type veth'))!;
const ends = (line: string) => {
  const m = /link add \S+ .*?mtu (\d+) type veth peer name \S+ .*?mtu (\d+)/.exec(line);
  assert.ok(m, line);
  return { host: Number(m[1]), container: Number(m[2]) };
};

/** A link in the fake /sys/class/net with this MTU (an OVS bridge's own interface, a bridge lowered by hand). */
function sysLink(sys: string, name: string, mtu: number, extra: Record<string, string> = {}): void {
  mkdirSync(join(sys, name), { recursive: true });
  for (const [k, v] of Object.entries({ type: '1', mtu: String(mtu), address: '02:00:00:00:00:77', ifalias: '' }))
    writeFileSync(join(sys, name, k), `${v}\n`);
  for (const [k, v] of Object.entries(extra)) {
    mkdirSync(join(sys, name, k, '..'), { recursive: true });
    writeFileSync(join(sys, name, k), `${v}\n`);
  }
}

test('--mtu below the bridge: the container gets it, the host end keeps the bridge MTU', async () => {
  const f = fakeAttacher();
  const res = await f.attach({ hostIf: 'br9', mtu: 1400 });
  assert.deepEqual(ends(vethLine(f.runner.calls)), { host: 1500, container: 1400 });
  assert.equal(res.record.mtu, 1400);
});

test('a bridge fleetnet creates is not lowered either; an MTU above the bridge goes to both ends', async () => {
  const f = fakeAttacher();
  await f.attach({ hostIf: 'brnew', mtu: 1280 });
  assert.deepEqual(ends(vethLine(f.runner.calls)), { host: 1500, container: 1280 });
  const g = fakeAttacher();
  await g.attach({ hostIf: 'br9', mtu: 9000 });
  assert.deepEqual(ends(vethLine(g.runner.calls)), { host: 9000, container: 9000 });
});

test("without --mtu both ends take the bridge's, also one set lower by hand", async () => {
  const f = fakeAttacher();
  sysLink(f.sys, 'brlow', 1450, { 'bridge/vlan_filtering': '0' });
  await f.attach({ hostIf: 'brlow' });
  assert.deepEqual(ends(vethLine(f.runner.calls)), { host: 1450, container: 1450 });
});

test("an existing OVS bridge: the host port keeps its bridge interface's MTU", async () => {
  const f = fakeAttacher({ ovsBridges: ['ovsb1'] });
  sysLink(f.sys, 'ovsb1', 1500);
  await f.attach({ hostIf: 'ovsb1', mtu: 1400 });
  assert.deepEqual(ends(vethLine(f.runner.calls)), { host: 1500, container: 1400 });
});

const container = (id: string, netns = '/proc/self/ns/net'): ContainerInfo => ({
  runtime: 'docker',
  id,
  name: `web-${id}`,
  pid: 1,
  netns,
  nsKey: `0:${id}`,
});
const at = (value: string, addr: string, over: Partial<AttachRequest> = {}): Partial<AttachRequest> => ({
  target: { kind: 'auto', value },
  addresses: [{ static: { cidr: addr, gateway: '' } }],
  ...over,
});
const taken = (re: RegExp) => (e: unknown) =>
  e instanceof FleetnetError && e.kind === 'conflict' && re.test(`${e.message}\n${e.hint ?? ''}`);

test('an address another attachment holds on the same bridge is refused (exit 1), naming the holder', async () => {
  const f = fakeAttacher({ containers: { a: container('a'), b: container('b') } });
  await f.attach(at('a', '10.1.1.5/24', { hostIf: 'br9' }));
  f.runner.calls.length = 0;
  await assert.rejects(
    f.attach(at('b', '10.1.1.5/16', { hostIf: 'br9' })),
    taken(/10\.1\.1\.5 is already used on br9 by container web-a \(eth1\)[^]*fleetnet detach web-a -i eth1/),
  );
  assert.deepEqual(show(f.runner.calls), [], 'nothing ran for the refused attach');
  // IPv6, written another way; and the holder's own record never clashes with its attach again.
  await f.attach(at('a', 'fd00::5/64', { hostIf: 'br9', ifname: 'eth2' }));
  await assert.rejects(f.attach(at('b', 'fd00:0::5/64', { hostIf: 'br9' })), taken(/fd00::5 is already used/));
  await f.attach(at('a', '10.1.1.5/24', { hostIf: 'br9' }));
});

test('another bridge, another VLAN, dummies and a removed container do not clash; a stopped one does', async () => {
  const f = fakeAttacher({ containers: { a: container('a'), b: container('b'), g: container('g', '/gone/ns') } });
  await f.attach(at('a', '10.1.1.5/24', { hostIf: 'br9' }));
  await f.attach(at('b', '10.1.1.5/24', { hostIf: 'brother' }));
  await f.attach(at('a', '10.1.1.6/24', { hostIf: 'eth0', vlan: '10', ifname: 'eth2' }));
  await f.attach(at('b', '10.1.1.6/24', { hostIf: 'eth0', vlan: '20', ifname: 'eth2' }));
  await assert.rejects(
    f.attach(at('b', '10.1.1.6/24', { hostIf: 'eth0', vlan: '10', ifname: 'eth3' })),
    taken(/10\.1\.1\.6 is already used on eth0 VLAN 10 by container web-a \(eth2\)/),
  );
  await f.attach(at('a', '10.9.0.1/32', { hostIf: 'dummy', ifname: 'eth4' }));
  await f.attach(at('b', '10.9.0.1/32', { hostIf: 'dummy', ifname: 'eth4' }));
  await f.attach(at('g', '10.1.1.7/24', { hostIf: 'br9' }));
  await f.attach(at('b', '10.1.1.7/24', { hostIf: 'br9', ifname: 'eth5' }));
  const a = f.attacher.list().find((r) => r.container.id === 'a' && r.hostIf === 'br9')!;
  f.attacher.note(a.key, { state: 'stopped' });
  await assert.rejects(f.attach(at('b', '10.1.1.5/24', { hostIf: 'br9', ifname: 'eth6' })), taken(/web-a/));
});

test('two attaches of one address at once: one is made, the other refused', async () => {
  const f = fakeAttacher({ containers: { a: container('a'), b: container('b') } });
  const both = await Promise.allSettled([
    f.attach(at('a', '10.1.1.8/24', { hostIf: 'br9' })),
    f.attach(at('b', '10.1.1.8/24', { hostIf: 'br9' })),
  ]);
  assert.deepEqual(
    both.map((r) => r.status),
    ['fulfilled', 'rejected'],
  );
  assert.ok(
    taken(/10\.1\.1\.8 is already used on br9 by an attach under way/)((both[1] as PromiseRejectedResult).reason),
  );
  // Ended, its claim is the record's: a third container is refused by the record, naming it.
  await assert.rejects(f.attach(at('b', '10.1.1.8/24', { hostIf: 'br9' })), taken(/by container web-a/));
});

const refusedInvalid = (re: RegExp) => (e: unknown) =>
  e instanceof FleetnetError && e.kind === 'invalid' && re.test(`${e.message}\n${e.hint ?? ''}`);
const onlyReads = (f: ReturnType<typeof fakeAttacher>) =>
  show(f.runner.calls).filter((l) => !/br-exists|link show dev/.test(l));

test('a new bridge whose name another link answers to is refused before anything is made (exit 2)', async () => {
  // An alternative name: sysfs does not list it; the kernel would answer "File exists" (and `ip link del` the link).
  const f = fakeAttacher({ kernelLinks: { 'br-alt': { ifname: 'hcdev', kind: 'veth' } } });
  await assert.rejects(
    f.attach({ hostIf: 'br-alt' }),
    refusedInvalid(/a Linux bridge named 'br-alt': 'br-alt' is an alternative name of 'hcdev', a veth/),
  );
  assert.deepEqual(onlyReads(f), []);
  // --kind ovs onto a dummy of that name: OVS would add the port to a bridge whose own interface it cannot make.
  const g = fakeAttacher({ kernelLinks: { sw2: { ifname: 'sw2', kind: 'dummy' } } });
  sysLink(g.sys, 'sw2', 1500);
  await assert.rejects(
    g.attach({ hostIf: 'sw2', kind: 'ovs' }),
    refusedInvalid(/an Open vSwitch bridge named 'sw2': 'sw2' is a dummy link[^]*'sw2' is left as it is/),
  );
  assert.deepEqual(onlyReads(g), []);
});

test('--kind bridge on a link that is no bridge names its kind (exit 2), as --kind ovs on a Linux bridge', async () => {
  const f = fakeAttacher({ kernelLinks: { brv: { ifname: 'brv', kind: 'veth' } } });
  sysLink(f.sys, 'brv', 1500);
  await assert.rejects(
    f.attach({ hostIf: 'brv', kind: 'bridge' }),
    refusedInvalid(/'brv' exists and is a veth, not a Linux bridge/),
  );
  await assert.rejects(
    f.attach({ hostIf: 'br9', kind: 'ovs' }),
    refusedInvalid(/'br9' exists and is a Linux bridge, not an Open vSwitch bridge/),
  );
  assert.deepEqual(onlyReads(f), []);
});

test('a bridge whose making answers "File exists" (taken meanwhile) is not deleted by name afterwards', async () => {
  const f = fakeAttacher({ fail: { match: /link add brz .*type bridge/, stderr: 'RTNETLINK answers: File exists' } });
  await assert.rejects(f.attach({ hostIf: 'brz' }), /File exists/);
  assert.deepEqual(
    show(f.runner.calls).filter((l) => l.startsWith('ip link del')),
    [],
  );
});

test('a name check that fails (not "does not exist") stops the attach before anything is made', async () => {
  const f = fakeAttacher({ fail: { match: /-details link show dev brq$/, stderr: 'Cannot open netlink socket' } });
  await assert.rejects(f.attach({ hostIf: 'brq' }), /ip link show dev brq: Cannot open netlink socket/);
  assert.deepEqual(onlyReads(f), []);
});
