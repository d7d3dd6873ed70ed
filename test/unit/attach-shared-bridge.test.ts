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
