// Argv-exact tests, through a FakeRunner, of the host-interface kinds this kernel cannot run
// (reviewed fixtures; test/privileged/parity-kernel-errors.test.ts replays their ip commands).
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { exitCodeOf, FleetnetError } from '../../common/errors.js';
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
  await assert.rejects(
    attach,
    (e: unknown) => e instanceof FleetnetError && e.kind === kind && re.test(`${e.message} ${e.hint ?? ''}`),
  );
}

test(
  'a missing capability refuses before any change: ' + 'dummy, 8021q, bridge VLAN filtering, OVS kernel datapath',
  async () => {
    const cases: [Parameters<ReturnType<typeof fakeAttacher>['attach']>[0], string, RegExp][] = [
      [{ hostIf: 'dummy' }, 'dummy', /no dummy support/],
      [{ hostIf: 'eth0', vlan: '10' }, '8021q', /no 8021q support.*OVS bridge/],
      [{ hostIf: 'brv1', vlan: '10' }, 'bridge-vlan-filtering', /no bridge-vlan-filtering support/],
      [
        { hostIf: 'ovsbr1' },
        'ovs-system',
        /no Open vSwitch datapath \(openvswitch module, CONFIG_OPENVSWITCH\).*--ovs-datapath netdev/,
      ],
    ];
    for (const [req, cap, re] of cases) {
      const f = fakeAttacher({ missing: [cap] });
      await refused(f.attach(req), 'unsupported', re);
      const read = (c: RecordedCall) => c.args.includes('br-exists') || c.args.includes('show');
      assert.deepEqual(
        f.runner.calls.filter((c: RecordedCall) => !read(c)),
        [],
        `${cap}: nothing but read-only checks ran`,
      );
    }
  },
);

test(
  'refused before anything runs: ' +
    'IPoIB with a MAC, a VLAN on a found bridge without --vlan-filtering, a trunk ' +
    'that is no port, unknown host interfaces',
  async () => {
    const cases: [Parameters<ReturnType<typeof fakeAttacher>['attach']>[0], string, RegExp][] = [
      [{ hostIf: 'ib0', mac: '02:12:34:56:78:9a' }, 'invalid', /IPoIB interface cannot take a MAC.*leave the MAC out/],
      [{ hostIf: 'br9', vlan: '10' }, 'conflict', /not made by fleetnet.*--vlan-filtering/],
      [
        { hostIf: 'br9', vlan: '10', vlanFiltering: true, trunk: 'eth0' },
        'invalid',
        /'eth0' is not a port of bridge br9/,
      ],
      [{ hostIf: 'eth7' }, 'not_found', /'eth7' does not exist.*ovs\*/],
      [{ hostIf: 'ib3' }, 'not_found', /InfiniBand interface 'ib3' does not exist/],
      [{ hostIf: 'eth0', macvlanMode: 'sideways' }, 'invalid', /unknown --macvlan-mode 'sideways'/],
      [{ hostIf: 'ib0', kind: 'macvlan', vlan: 'zz' }, 'invalid', /pkey|VLAN/],
    ];
    for (const [req, kind, re] of cases) {
      const f = fakeAttacher();
      await refused(f.attach(req), kind, re);
      assert.deepEqual(
        f.runner.calls.filter((c: RecordedCall) => c.cmd !== 'ovs-vsctl' || !c.args.includes('br-exists')),
        [],
        JSON.stringify(req),
      );
    }
  },
);

test('mac:HOSTMAC finds the host interface by its MAC', async () => {
  const f = fakeAttacher();
  const res = await f.attach({ hostIf: 'mac:52:54:00:12:34:56', kind: 'macvlan' });
  assert.equal(res.record.hostIf, 'eth0');
  assert.equal(res.record.kind, 'macvlan');
  await refused(
    f.attach({ hostIf: 'mac:02:99:99:99:99:99' }),
    'not_found',
    /no host interface has MAC 02:99:99:99:99:99/,
  );
});

test('detach of a macvlan on a created eth0.10 removes the macvlan, then eth0.10 with its last user', async () => {
  const f = fakeAttacher();
  await f.attach({ hostIf: 'eth0', vlan: '10' });
  // The fake sysfs now needs eth0.10 marked as fleetnet's, as the kernel would show it.
  const { mkdirSync, writeFileSync } = await import('node:fs');
  mkdirSync(`${f.sys}/eth0.10`);
  for (const [k, v] of Object.entries({
    type: '1',
    mtu: '1500',
    address: '52:54:00:12:34:56',
    ifalias: 'fleetnet:owned',
  }))
    writeFileSync(`${f.sys}/eth0.10/${k}`, v);
  f.runner.calls.length = 0;
  await f.attacher.detach({ target: { kind: 'pid', value: '4242' }, ifname: 'eth1' as never });
  assert.deepEqual(show(f.runner.calls), [`${NS} ip link del eth1`, 'ip link del eth0.10']);
});

function fakeLink(sys: string, name: string, alias: string): void {
  mkdirSync(`${sys}/${name}`);
  for (const [k, v] of Object.entries({ type: '1', mtu: '1500', address: '52:54:00:12:34:56', ifalias: alias }))
    writeFileSync(`${sys}/${name}/${k}`, v);
}

test('a found eth0.10 is reused, and stays after the last detach', async () => {
  const f = fakeAttacher();
  fakeLink(f.sys, 'eth0.10', '');
  await f.attach({ hostIf: 'eth0', vlan: '10' });
  assert.deepEqual(show(f.runner.calls).slice(2, 3), [
    'ip -json -batch - <<< link add fn925cadea24ea link eth0.10 mtu 1500 netns /proc/4242/ns/net ' +
      'type macvlan mode bridge',
  ]);
  f.runner.calls.length = 0;
  await f.attacher.detach({ target: { kind: 'pid', value: '4242' }, ifname: 'eth1' as never });
  assert.deepEqual(show(f.runner.calls), [`${NS} ip link del eth1`]);
});

test('a trunk loses the VLAN only with the last attachment that uses it', async () => {
  const f = fakeAttacher();
  writeFileSync(`${f.sys}/br9/bridge/vlan_filtering`, '1');
  await f.attach({ hostIf: 'br9', vlan: '20', trunk: 'up0' });
  await f.attach({ hostIf: 'br9', vlan: '20', trunk: 'up0', ifname: 'eth2' });
  f.runner.calls.length = 0;
  await f.attacher.detach({ target: { kind: 'pid', value: '4242' }, ifname: 'eth1' as never });
  assert.deepEqual(show(f.runner.calls), ['ip -json -batch - <<< link del fn925cadea24ea']);
  f.runner.calls.length = 0;
  await f.attacher.detach({ target: { kind: 'pid', value: '4242' }, ifname: 'eth2' as never });
  assert.deepEqual(show(f.runner.calls), [
    'ip -json -batch - <<< link del fnb039dc4ed475',
    'bridge -batch - <<< vlan del dev up0 vid 20',
  ]);
});

test('--dry-run of a macvlan on eth0.10 prints the commands and runs none that change anything', async () => {
  const f = fakeAttacher();
  const res = await f.attach({
    hostIf: 'eth0',
    vlan: '10',
    dryRun: true,
    addresses: [{ static: { cidr: 'fd00::5/64', gateway: 'fd00::1' } }],
  });
  assert.deepEqual(res.commands, [
    'ip link add link eth0 name eth0.10 type vlan id 10',
    'ip link set eth0.10 alias fleetnet:owned',
    'ip link set eth0.10 up',
    'nsenter --net=/proc/4242/ns/net ip -6 -json route show default',
    'ip link add fn925cadea24ea link eth0.10 mtu 1500 netns /proc/4242/ns/net type macvlan mode bridge',
    'nsenter --net=/proc/4242/ns/net sysctl -q -w net/ipv6/conf/fn925cadea24ea/disable_ipv6=0',
    'nsenter --net=/proc/4242/ns/net ip link set fn925cadea24ea name eth1',
    'nsenter --net=/proc/4242/ns/net ip addr add fd00::5/64 dev eth1 nodad',
    'nsenter --net=/proc/4242/ns/net ip link set eth1 up',
    'nsenter --net=/proc/4242/ns/net ip route replace default via fd00::1 dev eth1',
    'nsenter --net=/proc/4242/ns/net ip addr show dev eth1',
  ]);
  assert.deepEqual(show(f.runner.calls), ['ovs-vsctl --db=unix:/run/fnp/db.sock --timeout=10 br-exists eth0']);
});

test('--kind ovs creates an OVS bridge whatever its name', async () => {
  const f = fakeAttacher();
  const res = await f.attach({ hostIf: 'sw1', kind: 'ovs', ovsDatapath: 'netdev' });
  assert.equal(res.record.kind, 'ovs');
  assert.ok(
    show(f.runner.calls).includes(
      'ovs-vsctl --db=unix:/run/fnp/db.sock --timeout=10 --may-exist add-br sw1 -- set bridge sw1 ' +
        'datapath_type=netdev -- br-set-external-id sw1 fleetnet owned',
    ),
  );
  await refused(
    f.attach({ hostIf: 'br9', kind: 'ovs', ifname: 'eth3' }),
    'invalid',
    /'br9' exists and is a Linux bridge, not an Open vSwitch bridge/,
  );
});

// The reason and --ovs-datapath netdev, nothing left.
test('an OVS bridge in the database but not in the datapath takes no attach', async () => {
  // Found (made by someone before, e.g. an agent on a host without the openvswitch module): refused before any change.
  const found = fakeAttacher({ ovsBridges: ['ovsbr1'], brokenBridges: ['ovsbr1'] });
  const why = /not in the datapath.*no openvswitch kernel module.*--ovs-datapath netdev/;
  await refused(found.attach({ hostIf: 'ovsbr1' }), 'unsupported', why);
  const reads = ['br-exists', 'list', 'br-get-external-id'];
  const isRead = (c: RecordedCall) => c.cmd === 'ovs-vsctl' && reads.some((r) => c.args.includes(r));
  assert.deepEqual(show(found.runner.calls.filter((c: RecordedCall) => !isRead(c))), [], 'read-only checks only');
  // Made by this attach and found broken on read-back: the bridge goes again, no veth is made.
  const made = fakeAttacher({ brokenBridges: ['ovsbr1'] });
  const fix = /ovs-vsctl del-br ovsbr1.*--ovs-datapath netdev/;
  await refused(made.attach({ hostIf: 'ovsbr1', ovsDatapath: 'system' }), 'unsupported', fix);
  const argv = show(made.runner.calls);
  assert.ok(
    argv.some((l) => / add-br ovsbr1 /.test(l)),
    argv.join('\n'),
  );
  assert.ok(
    argv.some((l) => /--if-exists del-br ovsbr1$/.test(l)),
    argv.join('\n'),
  );
  assert.ok(!argv.some((l) => /type veth/.test(l)), 'no veth made');
});

// An agent that lost its records adopts its own interface as asked, remakes one not as asked, refuses another's.
test("macvlan, IPoIB, dummy: adoption of the container's own interface", async () => {
  const mark = 'fleetnet:a0123456789';
  const kinds: [string, Parameters<ReturnType<typeof fakeAttacher>['attach']>[0], string, number][] = [
    ['macvlan', { hostIf: 'eth0' }, 'eth1', 1500],
    ['ipoib', { hostIf: 'ib0', ifname: 'ib0' }, 'ib0', 2044],
    ['dummy', { hostIf: 'dummy' }, 'eth1', 1500],
  ];
  const readOnly = / br-exists | link show dev |<<< addr show dev \S+$/;
  const writes = (f: ReturnType<typeof fakeAttacher>) => show(f.runner.calls).filter((l) => !readOnly.test(l));
  for (const [kind, req, ifname, mtu] of kinds) {
    // Its own (the agent's alias mark) and as asked: recorded as it is, nothing run that changes anything.
    const mac = '02:00:00:00:00:05';
    const found = (addresses: string[]) => ({ ifname, ifalias: mark, addresses, mac, mtu });
    const mine = fakeAttacher({ ownerMark: mark, found: found(['10.1.1.5/24']) });
    const res = await mine.attach(req);
    assert.equal(res.changed, false, kind);
    assert.equal(res.record.kind, kind);
    assert.equal(res.record.mac, '02:00:00:00:00:05');
    assert.deepEqual(writes(mine), [], `${kind}: adopted without a change`);
    // Its own, not as asked (another address): removed in the container, then made again (and marked).
    const stale = fakeAttacher({ ownerMark: mark, found: found(['10.1.1.99/24']) });
    await stale.attach(req);
    const w = writes(stale);
    assert.equal(w[0], `${NS} ip link del ${ifname}`, `${kind}: ${w.join('\n')}`);
    assert.ok(
      w.some((l) => l.includes(`link set ${ifname} alias ${mark}`)),
      `${kind} marked: ${w.join('\n')}`,
    );
    // Someone else's: exit 2 naming it, nothing changed.
    const foreign = '52:54:00:00:00:01';
    const other = fakeAttacher({ ownerMark: mark, found: { ifname, ifalias: '', addresses: [], mac: foreign } });
    const named = new RegExp(`already has an interface ${ifname} \\(MAC ${foreign}\\) that fleetnet did not make`);
    await refused(other.attach(req), 'invalid', named);
    assert.deepEqual(writes(other), [], `${kind}: someone else's interface untouched`);
  }
});

test('--kind ipoib on a parent that is not InfiniBand: exit 2 naming its kind and the fix, after a read', async () => {
  const cases: [string, { ifname: string; kind: string } | undefined, RegExp][] = [
    ['eth0', { ifname: 'eth0', kind: 'veth' }, /^'eth0' is a veth, not an InfiniBand device/],
    ['eth0', { ifname: 'eth0', kind: '' }, /^'eth0' is a network device \(no link kind: a NIC\), not an InfiniBand/],
    ['br9', { ifname: 'br9', kind: 'bridge' }, /^'br9' is a Linux bridge, not an InfiniBand device/],
    // the kernel does not answer to the name (sysfs did): what sysfs says
    ['up0', undefined, /^'up0' is an Ethernet interface, not an InfiniBand device/],
  ];
  for (const [hostIf, link, re] of cases) {
    const f = fakeAttacher(link ? { kernelLinks: { [hostIf]: link } } : {});
    const err = await f.attach({ hostIf, kind: 'ipoib' }).then(
      () => assert.fail(`${hostIf}: attached`),
      (e: unknown) => e as FleetnetError,
    );
    assert.equal(exitCodeOf(err), 2, `${hostIf}: ${err.message}`);
    assert.match(err.message, re);
    assert.match(err.hint ?? '', /link\/infiniband.*or drop --kind ipoib to use '\w+' as it is/);
    assert.deepEqual(show(f.runner.calls), [`ip -json -details link show dev ${hostIf}`], 'nothing but the read');
  }
});
