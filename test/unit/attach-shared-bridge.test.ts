// A bridge shared by several attachments, through a FakeRunner (exact argv): one attach's --mtu stays its
// own (the bridge's MTU is the lowest of its ports'), and the attach that would break the others is refused.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
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
