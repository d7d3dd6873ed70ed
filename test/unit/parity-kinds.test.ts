// Argv-exact tests, through a FakeRunner, of the host-interface kinds this kernel cannot run
// (reviewed fixtures; test/privileged/parity-kernel-errors.test.ts replays their ip commands).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FleetnetError } from '../../common/errors.js';
import type { RecordedCall } from '../../common/runner.js';
import { EXPECTED, fakeAttacher, NS, show } from './parity-fixtures.js';

for (const [name, { req, argv }] of Object.entries(EXPECTED)) {
  test(`argv: ${name}`, async () => {
    const f = fakeAttacher();
    const res = await f.attach(req);
    assert.deepEqual(show(f.runner.calls), argv);
    assert.equal(res.changed, true);
  });
}

async function refused(attach: Promise<unknown>, kind: string, re: RegExp): Promise<void> {
  await assert.rejects(attach, (e: unknown) => e instanceof FleetnetError && e.kind === kind && re.test(`${e.message} ${e.hint ?? ''}`));
}

test('a missing capability refuses before any change: dummy, 8021q, bridge VLAN filtering, OVS kernel datapath', async () => {
  const cases: [Parameters<ReturnType<typeof fakeAttacher>['attach']>[0], string, RegExp][] = [
    [{ hostIf: 'dummy' }, 'dummy', /no dummy support/],
    [{ hostIf: 'eth0', vlan: '10' }, '8021q', /no 8021q support.*OVS bridge/],
    [{ hostIf: 'brv1', vlan: '10' }, 'bridge-vlan-filtering', /no bridge-vlan-filtering support/],
    [{ hostIf: 'ovsbr1' }, 'ovs-system', /no Open vSwitch datapath \(openvswitch module, CONFIG_OPENVSWITCH\).*--ovs-datapath netdev/],
  ];
  for (const [req, cap, re] of cases) {
    const f = fakeAttacher({ missing: [cap] });
    await refused(f.attach(req), 'unsupported', re);
    assert.deepEqual(f.runner.calls.filter((c: RecordedCall) => c.cmd !== 'ovs-vsctl' || !c.args.includes('br-exists')), [], `${cap}: nothing but read-only checks ran`);
  }
});

test('refused before anything runs: IPoIB with a MAC, a VLAN on a found bridge without --vlan-filtering, a trunk that is no port, unknown host interfaces', async () => {
  const cases: [Parameters<ReturnType<typeof fakeAttacher>['attach']>[0], string, RegExp][] = [
    [{ hostIf: 'ib0', mac: '02:12:34:56:78:9a' }, 'invalid', /IPoIB interface cannot take a MAC.*leave the MAC out/],
    [{ hostIf: 'br9', vlan: '10' }, 'conflict', /not made by fleetnet.*--vlan-filtering/],
    [{ hostIf: 'br9', vlan: '10', vlanFiltering: true, trunk: 'eth0' }, 'invalid', /'eth0' is not a port of bridge br9/],
    [{ hostIf: 'eth7' }, 'not_found', /'eth7' does not exist.*ovs\*/],
    [{ hostIf: 'ib3' }, 'not_found', /InfiniBand interface 'ib3' does not exist/],
    [{ hostIf: 'eth0', macvlanMode: 'sideways' }, 'invalid', /unknown --macvlan-mode 'sideways'/],
    [{ hostIf: 'ib0', kind: 'macvlan', vlan: 'zz' }, 'invalid', /pkey|VLAN/],
  ];
  for (const [req, kind, re] of cases) {
    const f = fakeAttacher();
    await refused(f.attach(req), kind, re);
    assert.deepEqual(f.runner.calls.filter((c: RecordedCall) => c.cmd !== 'ovs-vsctl' || !c.args.includes('br-exists')), [], JSON.stringify(req));
  }
});

test('mac:HOSTMAC finds the host interface by its MAC', async () => {
  const f = fakeAttacher();
  const res = await f.attach({ hostIf: 'mac:52:54:00:12:34:56', kind: 'macvlan' });
  assert.equal(res.record.hostIf, 'eth0');
  assert.equal(res.record.kind, 'macvlan');
  await refused(f.attach({ hostIf: 'mac:02:99:99:99:99:99' }), 'not_found', /no host interface has MAC 02:99:99:99:99:99/);
});

test('detach of a macvlan on a created eth0.10 removes the macvlan, then eth0.10 with its last user', async () => {
  const f = fakeAttacher();
  await f.attach({ hostIf: 'eth0', vlan: '10' });
  // The fake sysfs now needs eth0.10 marked as fleetnet's, as the kernel would show it.
  const { mkdirSync, writeFileSync } = await import('node:fs');
  mkdirSync(`${f.sys}/eth0.10`);
  for (const [k, v] of Object.entries({ type: '1', mtu: '1500', address: '52:54:00:12:34:56', ifalias: 'fleetnet:owned' })) writeFileSync(`${f.sys}/eth0.10/${k}`, v);
  f.runner.calls.length = 0;
  await f.attacher.detach({ target: { kind: 'pid', value: '4242' }, ifname: 'eth1' as never });
  assert.deepEqual(show(f.runner.calls), [`${NS} ip link del eth1`, 'ip link del eth0.10']);
});
