// Typed link operations: the bridge and OVS veth attach's operations are carried out in-process over
// netlink (NETLINK_OPS); every other operation sends its whole batch to `ip -batch` as text. The text
// renderer gives the exact iproute2 lines fleetnet has always written (the spec of --dry-run and of
// --ip-path exec); nothing parses them back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bridgeOps } from '../../agent/attach/kinds/bridge.js';
import { vethOp } from '../../agent/attach/kinds/veth.js';
import { ipExec } from '../../agent/linux/ip.js';
import { NETLINK_OPS, netlinkIp } from '../../agent/linux/ip-netlink.js';
import { renderOp, type LinkOp } from '../../agent/linux/link-ops.js';
import type { Rtnl } from '../../agent/linux/rtnetlink.js';
import { vlanLinkOps } from '../../agent/links/vlan.js';
import { chooseIpPath } from '../../agent/main.js';
import { FleetnetError } from '../../common/errors.js';
import { parseAddr, parseIfAddr } from '../../common/ip.js';
import { silentLogger } from '../../common/logger.js';
import { FakeRunner } from '../../common/runner.js';

test('the operations of a bridge attach render to their iproute2 lines and run over netlink', () => {
  const [add, alias, up] = bridgeOps('br-blue');
  assert.ok(add?.t === 'bridge');
  assert.equal(renderOp(add), `link add br-blue address ${add.mac} type bridge`);
  assert.equal(renderOp(alias!), 'link set br-blue alias fleetnet:owned');
  assert.equal(renderOp(up!), 'link set br-blue up');
  const cases: [LinkOp, string][] = [
    [
      vethOp('fnd1a2b3c4eth1', 'eth1', 1400, '02:72:6c:cd:9b:8d', '/proc/42/ns/net'),
      'link add fnd1a2b3c4eth1 numtxqueues 1 numrxqueues 1 mtu 1400 type veth ' +
        'peer name eth1 numtxqueues 1 numrxqueues 1 mtu 1400 address ' +
        '02:72:6c:cd:9b:8d netns /proc/42/ns/net',
    ],
    [{ t: 'set', name: 'fnd1', master: 'br-blue', up: true }, 'link set fnd1 master br-blue up'],
    [{ t: 'set', name: 'fntmp0', rename: 'eth1' }, 'link set fntmp0 name eth1'],
    [{ t: 'set', name: 'fnd1', up: false }, 'link set fnd1 down'],
    [{ t: 'del', name: 'fnd1' }, 'link del fnd1'],
    [{ t: 'addr-show', dev: 'eth1' }, 'addr show dev eth1'],
    [{ t: 'addr-add', cidr: parseIfAddr('10.1.1.5/24'), dev: 'eth1', nodad: false }, 'addr add 10.1.1.5/24 dev eth1'],
    [
      { t: 'addr-add', cidr: parseIfAddr('fd00:1::5/64'), dev: 'eth1', nodad: true },
      'addr add fd00:1::5/64 dev eth1 nodad',
    ],
    [{ t: 'default-via', gw: parseAddr('fd00:1::1'), dev: 'eth1' }, 'route replace default via fd00:1::1 dev eth1'],
  ];
  for (const [op, text] of [...cases, [add, ''] as [LinkOp, string], [alias!, ''] as [LinkOp, string]]) {
    if (text) assert.equal(renderOp(op), text);
    assert.ok(NETLINK_OPS.has(op.t), `${op.t} runs over netlink`);
  }
});

test('any other operation is left to ip, as the lines it always was', () => {
  const cases: [LinkOp, string][] = [
    [{ t: 'bridge-vlan-filtering', name: 'br0' }, 'link set br0 type bridge vlan_filtering 1'],
    [
      { t: 'macvlan', name: 'fnm1', link: 'eth0', mtu: 1500, netns: '/proc/1/ns/net', mode: 'bridge' },
      'link add fnm1 link eth0 mtu 1500 netns /proc/1/ns/net type macvlan mode bridge',
    ],
    [
      { t: 'dummy', name: 'fnd1', mtu: 1500, netns: '/proc/1/ns/net' },
      'link add fnd1 mtu 1500 netns /proc/1/ns/net type dummy',
    ],
    [
      { t: 'ipoib', name: 'fni1', link: 'ib0', mtu: 2044, netns: '/proc/1/ns/net', pkey: 0x8001 },
      'link add link ib0 name fni1 mtu 2044 netns /proc/1/ns/net type ipoib pkey 0x8001',
    ],
    [vlanLinkOps('eth0', 'eth0.10', 10)[0]!, 'link add link eth0 name eth0.10 type vlan id 10'],
  ];
  for (const [op, text] of cases) {
    assert.equal(renderOp(op), text);
    assert.ok(!NETLINK_OPS.has(op.t), `${op.t} goes to ip`);
  }
  // The last guard of the text renderer: no token with whitespace or quotes reaches a batch.
  assert.throws(() => renderOp({ t: 'del', name: 'a b' }), FleetnetError);
});

test('a batch holding one operation for ip runs whole through ip -batch; netlink batches never exec', async () => {
  const runner = new FakeRunner(() => ({ stdout: '' }));
  const opened: (string | undefined)[] = [];
  const rt = {
    open: (ns?: string) => {
      opened.push(ns);
      throw new Error('no socket in a unit test');
    },
  } as unknown as Rtnl;
  const ip = netlinkIp(rt, ipExec(runner));
  await ip.host([
    { t: 'bridge-vlan-filtering', name: 'br0' },
    { t: 'set', name: 'br0', up: true },
  ]);
  assert.deepEqual(
    runner.calls.map((c) => [c.cmd, c.args.join(' '), c.input]),
    [['ip', '-json -batch -', 'link set br0 type bridge vlan_filtering 1\nlink set br0 up\n']],
  );
  assert.deepEqual([ip.execs, ip.inProcess], [1, 0]);
  await assert.rejects(ip.inNs('/proc/7/ns/net', [{ t: 'set', name: 'eth1', up: true }]), /no socket in a unit test/);
  assert.deepEqual(opened, ['/proc/7/ns/net']);
  assert.equal(runner.calls.length, 1, 'the in-process batch ran no command');
  assert.deepEqual(
    ip.describe('/proc/7/ns/net', [{ t: 'set', name: 'eth1', up: true }]),
    ['nsenter --net=/proc/7/ns/net ip link set eth1 up'],
    '--dry-run still shows iproute2',
  );
});

test(
  'the agent picks its ip path: netlink when it loads, else exec with the reason in Capabilities; ' +
    '--ip-path netlink insists; the mesh neighbour work goes the same way',
  async () => {
    const log = silentLogger();
    const runner = new FakeRunner();
    const fake = {
      open() {
        throw new Error('unused');
      },
    } as unknown as Rtnl;
    const auto = chooseIpPath({ ipPath: 'auto' }, runner, log, () => fake);
    assert.deepEqual([auto.capability.name, auto.capability.available], ['netlink', true]);
    assert.ok('inProcess' in auto.ip);
    assert.throws(() => auto.neigh(), /unused/, 'the neighbour I/O opens netlink sockets');
    const missing = chooseIpPath(
      { ipPath: 'auto' },
      runner,
      log,
      () => "in-process netlink unavailable (Cannot find module 'koffi')",
    );
    assert.deepEqual(
      [missing.capability.available, missing.capability.detail],
      [false, "in-process netlink unavailable (Cannot find module 'koffi')"],
    );
    assert.ok(!('inProcess' in missing.ip));
    const exec = chooseIpPath({ ipPath: 'exec' }, runner, log, () => fake);
    assert.deepEqual([exec.capability.available, exec.capability.detail], [false, 'not chosen (--ip-path exec)']);
    for (const p of [missing, exec]) await p.neigh().addresses();
    assert.deepEqual(
      runner.calls.map((c) => `${c.cmd} ${c.args.join(' ')}`),
      ['ip -json -4 addr show', 'ip -json -4 addr show'],
      'without netlink, the neighbour I/O runs ip',
    );
    assert.throws(
      () => chooseIpPath({ ipPath: 'netlink' }, runner, log, () => 'in-process netlink unavailable (x)'),
      (e: unknown) => e instanceof FleetnetError && e.kind === 'unsupported' && /--ip-path exec/.test(e.hint ?? ''),
    );
  },
);
