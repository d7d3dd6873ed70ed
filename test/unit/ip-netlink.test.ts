// The in-process netlink path understands exactly the `ip` lines fleetnet writes for the bridge
// and OVS veth attach; every other batch goes to `ip -batch` unchanged.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bridgeLines } from '../../agent/attach/kinds/bridge.js';
import { vethLine } from '../../agent/attach/kinds/veth.js';
import { ipExec } from '../../agent/linux/ip.js';
import { netlinkIp, parseLine } from '../../agent/linux/ip-netlink.js';
import type { Rtnl } from '../../agent/linux/rtnetlink.js';
import { chooseIpPath } from '../../agent/main.js';
import { FleetnetError } from '../../common/errors.js';
import { silentLogger } from '../../common/logger.js';
import { FakeRunner } from '../../common/runner.js';

test('the lines of a bridge attach parse to operations', () => {
  const [add, alias, up] = bridgeLines('br-blue');
  assert.deepEqual(parseLine(add!), { t: 'bridge', name: 'br-blue', mac: add!.split(' ')[4] });
  assert.deepEqual(parseLine(alias!), { t: 'set', name: 'br-blue', alias: 'fleetnet:owned' });
  assert.deepEqual(parseLine(up!), { t: 'set', name: 'br-blue', up: true });
  assert.deepEqual(parseLine(vethLine('fnd1a2b3c4eth1', 'eth1', 1400, '02:72:6c:cd:9b:8d', '/proc/42/ns/net')), {
    t: 'veth', name: 'fnd1a2b3c4eth1', mtu: 1400, peer: { name: 'eth1', mtu: 1400, mac: '02:72:6c:cd:9b:8d', netns: '/proc/42/ns/net' },
  });
  assert.deepEqual(parseLine('link set fnd1 master br-blue up'), { t: 'set', name: 'fnd1', master: 'br-blue', up: true });
  assert.deepEqual(parseLine('link set fntmp0 name eth1'), { t: 'set', name: 'fntmp0', rename: 'eth1' });
  assert.deepEqual(parseLine('link del fnd1'), { t: 'del', name: 'fnd1' });
  assert.deepEqual(parseLine('addr show dev eth1'), { t: 'addr-show', dev: 'eth1' });
  const v4 = parseLine('addr add 10.1.1.5/24 dev eth1');
  assert.ok(v4?.t === 'addr-add');
  assert.deepEqual([v4.addr.family, [...v4.addr.bytes], v4.addr.prefix, v4.dev, v4.nodad], [4, [10, 1, 1, 5], 24, 'eth1', false]);
  const v6 = parseLine('addr add fd00:1::5/64 dev eth1 nodad');
  assert.ok(v6?.t === 'addr-add');
  assert.deepEqual([v6.addr.family, v6.addr.bytes.toString('hex'), v6.nodad], [6, 'fd000001000000000000000000000005', true]);
  const gw = parseLine('route replace default via fd00:1::1 dev eth1');
  assert.ok(gw?.t === 'default-via');
  assert.deepEqual([gw.gw.family, gw.gw.bytes.toString('hex'), gw.dev], [6, 'fd000001000000000000000000000001', 'eth1']);
});

test('any other line is left to ip', () => {
  for (const l of [
    'link set br0 type bridge vlan_filtering 1',
    'link add fnm1 link eth0 mtu 1500 netns /proc/1/ns/net type macvlan mode bridge',
    'link add fnd1 mtu 1500 netns /proc/1/ns/net type dummy',
    'link add fnv1 type veth peer name eth1 txqueuelen 5',
    'link set fnd1 up down',
    'addr add 10.1.1.5/24 dev eth1 valid_lft 5',
    'route add 10.2.0.0/16 via 10.1.1.1',
    'route replace default via nonsense dev eth1',
    'neigh show',
  ]) assert.equal(parseLine(l), undefined, l);
});

test('a batch holding one unknown line runs whole through ip -batch; known batches never exec', async () => {
  const runner = new FakeRunner(() => ({ stdout: '' }));
  const opened: (string | undefined)[] = [];
  const rt = { open: (ns?: string) => { opened.push(ns); throw new Error('no socket in a unit test'); } } as unknown as Rtnl;
  const ip = netlinkIp(rt, ipExec(runner));
  await ip.host(['link set br0 type bridge vlan_filtering 1', 'link set br0 up']);
  assert.deepEqual(runner.calls.map((c) => [c.cmd, c.args.join(' '), c.input]), [['ip', '-json -batch -', 'link set br0 type bridge vlan_filtering 1\nlink set br0 up\n']]);
  assert.deepEqual([ip.execs, ip.inProcess], [1, 0]);
  await assert.rejects(ip.inNs('/proc/7/ns/net', ['link set eth1 up']), /no socket in a unit test/);
  assert.deepEqual(opened, ['/proc/7/ns/net']);
  assert.equal(runner.calls.length, 1, 'the in-process batch ran no command');
  assert.deepEqual(ip.describe('/proc/7/ns/net', ['link set eth1 up']), ['nsenter --net=/proc/7/ns/net ip link set eth1 up'], '--dry-run still shows iproute2');
});

test('the agent picks its ip path: netlink when it loads, else exec with the reason in Capabilities; --ip-path netlink insists', () => {
  const log = silentLogger();
  const runner = new FakeRunner();
  const fake = { open() { throw new Error('unused'); } } as unknown as Rtnl;
  const auto = chooseIpPath({ ipPath: 'auto' }, runner, log, () => fake);
  assert.deepEqual([auto.capability.name, auto.capability.available], ['netlink', true]);
  assert.ok('inProcess' in auto.ip);
  const missing = chooseIpPath({ ipPath: 'auto' }, runner, log, () => 'in-process netlink unavailable (Cannot find module \'koffi\')');
  assert.deepEqual([missing.capability.available, missing.capability.detail], [false, 'in-process netlink unavailable (Cannot find module \'koffi\')']);
  assert.ok(!('inProcess' in missing.ip));
  const exec = chooseIpPath({ ipPath: 'exec' }, runner, log, () => fake);
  assert.deepEqual([exec.capability.available, exec.capability.detail], [false, 'not chosen (--ip-path exec)']);
  assert.throws(() => chooseIpPath({ ipPath: 'netlink' }, runner, log, () => 'in-process netlink unavailable (x)'),
    (e: unknown) => e instanceof FleetnetError && e.kind === 'unsupported' && /--ip-path exec/.test(e.hint ?? ''));
});
