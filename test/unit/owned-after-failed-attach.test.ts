// What fleetnet made on the host goes with its last attachment, also when the attach that would have been its
// next one fails: an OVS bridge or an `<if>.<VID>` link fleetnet made for an attachment since detached is removed
// by a failed attach's undo when nothing else uses it (a Linux bridge already was). Kept: one a recorded attachment
// uses, and anything without fleetnet's mark.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { OWNED_ALIAS } from '../../agent/linux/sysfs.js';
import { fakeAttacher, show } from './parity-fixtures.js';

const vethFails = { match: /type veth/, stderr: 'RTNETLINK answers: Operation not permitted' };
const macvlanFails = { match: /type macvlan/, stderr: 'RTNETLINK answers: Operation not permitted' };

function vlanLink(sys: string, name: string, alias: string): void {
  mkdirSync(join(sys, name), { recursive: true });
  for (const [f, v] of Object.entries({ type: '1', mtu: '1500', address: '52:54:00:12:34:56', ifalias: alias }))
    writeFileSync(join(sys, name, f), `${v}\n`);
}

test('a failed attach into an unused OVS bridge fleetnet made removes it; one with an attachment stays', async () => {
  const f = fakeAttacher({ ovsBridges: ['ovsbr1'], ownedOvsBridges: ['ovsbr1'], fail: vethFails });
  await assert.rejects(f.attach({ hostIf: 'ovsbr1', ifname: 'eth1' }), /Operation not permitted/);
  const argv = show(f.runner.calls);
  assert.ok(
    argv.some((l) => /--if-exists del-br ovsbr1$/.test(l)),
    `the bridge goes:\n${argv.join('\n')}`,
  );
  assert.ok(!argv.some((l) => / add-br /.test(l)), 'nothing made');

  // The same with an attachment on it: the failed second attach leaves the bridge to the first.
  const o: Parameters<typeof fakeAttacher>[0] = { ovsBridges: ['ovsbr1'], ownedOvsBridges: ['ovsbr1'] };
  const g = fakeAttacher(o);
  await g.attach({ hostIf: 'ovsbr1', ifname: 'eth1' });
  o.fail = vethFails;
  await assert.rejects(g.attach({ hostIf: 'ovsbr1', ifname: 'eth2' }), /Operation not permitted/);
  assert.ok(!show(g.runner.calls).some((l) => / del-br /.test(l)), 'a bridge in use stays');
});

test('an OVS bridge without fleetnet mark is never removed by a failed attach', async () => {
  const f = fakeAttacher({ ovsBridges: ['ovsbr1'], fail: vethFails });
  await assert.rejects(f.attach({ hostIf: 'ovsbr1', ifname: 'eth1' }), /Operation not permitted/);
  const argv = show(f.runner.calls);
  assert.ok(!argv.some((l) => / del-br /.test(l)), argv.join('\n'));
});

test('a failed macvlan attach on an unused <if>.<VID> fleetnet made removes it; a found one stays', async () => {
  const owned = fakeAttacher({ fail: macvlanFails });
  vlanLink(owned.sys, 'eth0.7', OWNED_ALIAS);
  await assert.rejects(owned.attach({ hostIf: 'eth0', vlan: '7', kind: 'macvlan' }), /Operation not permitted/);
  const argv = show(owned.runner.calls);
  assert.ok(
    argv.some((l) => l === 'ip link del eth0.7'),
    `the VLAN link goes:\n${argv.join('\n')}`,
  );
  assert.ok(!argv.some((l) => /type vlan/.test(l)), 'nothing made');

  const found = fakeAttacher({ fail: macvlanFails });
  vlanLink(found.sys, 'eth0.7', '');
  await assert.rejects(found.attach({ hostIf: 'eth0', vlan: '7', kind: 'macvlan' }), /Operation not permitted/);
  assert.ok(!show(found.runner.calls).some((l) => /link del eth0\.7/.test(l)), "someone else's eth0.7 stays");
});
