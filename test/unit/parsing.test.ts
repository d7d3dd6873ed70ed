import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isAddressToken, parseAttachArgs, parseLast, parseTarget } from '../../common/attach-args.js';
import { FleetnetError } from '../../common/errors.js';
import { hostIfName, parseIfName } from '../../common/ifname.js';
import { contains, parseAddr, parseIfAddr, parseNetwork } from '../../common/ip.js';
import { macFromHostIp, macFromString, parseMac } from '../../common/mac.js';

const isInvalid = (fn: () => unknown, re?: RegExp) =>
  assert.throws(
    fn,
    (e: unknown) =>
      e instanceof FleetnetError && e.kind === 'invalid' && (!re || re.test(e.message + ' ' + (e.hint ?? ''))),
  );

describe('MAC schemes', () => {
  it('U:<string> is pipework-compatible (md5 of the string and a newline)', () => {
    assert.equal(macFromString('myhost.foo.com'), '02:72:6c:cd:9b:8d');
  });
  it('U: strings with shell-special characters are refused', () => {
    for (const s of ['a b', 'a\\b', 'a*', 'a?', 'a[', 'a@b', '-x', '']) isInvalid(() => macFromString(s));
  });
  it('explicit MACs must be unicast and non-zero', () => {
    assert.equal(parseMac('02:AA:bb:cc:dd:ee'), '02:aa:bb:cc:dd:ee');
    isInvalid(() => parseMac('01:00:5e:00:00:01'), /multicast/);
    isInvalid(() => parseMac('00:00:00:00:00:00'), /zero/);
    isInvalid(() => parseMac('02:00:00:00:00'), /not a MAC/);
  });
  it('XX:IP:IP:IP:YY:ZZ carries the host underlay address and a locally administered unicast XX', () => {
    const mac = macFromHostIp(parseAddr('10.99.0.12'), (n) => Buffer.alloc(n, 0xff));
    assert.equal(mac, 'fe:63:00:0c:ff:ff'); // 99 = 0x63, 0 = 0x00, 12 = 0x0c
    const xx = parseInt(mac.slice(0, 2), 16);
    assert.equal(xx & 3, 2);
  });
});

describe('addresses', () => {
  it('parses interface addresses and networks, canonical IPv6', () => {
    assert.equal(parseIfAddr('10.1.1.5/24').text, '10.1.1.5/24');
    assert.equal(parseIfAddr('FD00:0:0::05/64').text, 'fd00::5/64');
    assert.equal(parseNetwork('fd00:1::/64').text, 'fd00:1::/64');
    assert.ok(contains(parseNetwork('10.1.1.0/24'), parseAddr('10.1.1.200')));
    assert.ok(!contains(parseNetwork('10.1.1.0/24'), parseAddr('10.1.2.1')));
  });
  it('a bare address gets a hint with a prefix length', () => {
    isInvalid(() => parseIfAddr('10.1.1.5'), /did you mean 10\.1\.1\.5\/24/);
  });
  it('a network with host bits is refused with the right network named', () => {
    isInvalid(() => parseNetwork('10.1.1.5/24'), /10\.1\.1\.0\/24/);
  });
  it('prefix lengths out of range are refused', () => {
    isInvalid(() => parseIfAddr('10.1.1.5/33'));
    isInvalid(() => parseIfAddr('fd00::1/129'));
    isInvalid(() => parseIfAddr('10.1.1.5/0'), /0\/0/);
  });
});

describe('interface names', () => {
  it('accepts 1-15 bytes without / : % or whitespace, not . or ..', () => {
    assert.equal(parseIfName('eth1'), 'eth1');
    assert.equal(parseIfName('a'.repeat(15)), 'a'.repeat(15));
    for (const bad of ['', 'a'.repeat(16), 'a/b', 'a:b', 'a%b', 'a b', '.', '..', 'é'.repeat(8)])
      isInvalid(() => parseIfName(bad));
  });
  it('derives deterministic host-side names that fit', () => {
    const a = hostIfName('docker', 'abc', 'eth1');
    assert.equal(a, hostIfName('docker', 'abc', 'eth1'));
    assert.notEqual(a, hostIfName('docker', 'abc', 'eth2'));
    assert.ok(Buffer.byteLength(a) <= 15 && a.startsWith('fn'));
  });
});

describe('attach grammar', () => {
  it('HOSTIF TARGET ADDRESS [LAST], as pipework', () => {
    const a = parseAttachArgs(['br1', 'web1', '192.168.1.10/24@192.168.1.254', 'U:web1@10']);
    assert.equal(a.hostIf, 'br1');
    assert.deepEqual(a.target, { kind: 'auto', value: 'web1' });
    assert.equal(a.addresses.length, 1);
    const s = a.addresses[0]!;
    assert.ok(s.kind === 'static' && s.cidr.text === '192.168.1.10/24' && s.gateway?.text === '192.168.1.254');
    assert.equal(a.mac.kind, 'string');
    assert.equal(a.id, '10');
  });
  it('one word before the address is the target; several addresses; dual stack', () => {
    const a = parseAttachArgs(['web1', '10.1.1.5/24', 'fd00::5/64@fd00::1']);
    assert.equal(a.hostIf, undefined);
    assert.equal(a.addresses.length, 2);
  });
  it('target forms', () => {
    assert.deepEqual(parseTarget('1234'), { kind: 'pid', value: '1234' });
    assert.deepEqual(parseTarget('netns:blue'), { kind: 'netns', value: 'blue' });
    assert.deepEqual(parseTarget('/proc/1/ns/net'), { kind: 'path', value: '/proc/1/ns/net' });
    assert.deepEqual(parseTarget('docker:web1'), { kind: 'docker', value: 'web1' });
    assert.deepEqual(parseTarget('lxc:c1'), { kind: 'lxc', value: 'c1' });
    isInvalid(() => parseTarget('pid:abc'));
    isInvalid(() => parseTarget('we b'));
    isInvalid(() => parseTarget('$(reboot)'));
  });
  it('LAST is split at the last @', () => {
    assert.deepEqual(parseLast('@42'), { mac: { kind: 'auto' }, id: '42' });
    const m = parseLast('02:11:22:33:44:55@7');
    assert.equal(m.id, '7');
    assert.equal(m.mac.kind, 'explicit');
  });
  it('0/0 and DHCP keywords are addresses', () => {
    assert.ok(isAddressToken('0/0'));
    assert.ok(isAddressToken('dhclient'));
    assert.ok(isAddressToken('udhcpc:-x hostname:foo'));
    const a = parseAttachArgs(['br1', 'web1', 'udhcpc-f']);
    assert.deepEqual(a.addresses[0], { kind: 'dhcp', client: 'udhcpc', options: '' });
  });
  it('refuses bad input with a hint', () => {
    isInvalid(() => parseAttachArgs(['br1', 'web1']), /no address/);
    isInvalid(() => parseAttachArgs(['a', 'b', 'c', '10.1.1.5/24']), /too many words/);
    isInvalid(() => parseAttachArgs(['br1', 'web1', '10.1.1.5/24', 'x', 'y']), /unexpected words/);
    isInvalid(() => parseAttachArgs(['br1', 'web1', '10.1.1.5/24', '@4095']), /VLAN/);
    isInvalid(() => parseAttachArgs(['br1', 'web1', '10.1.1.5/24@fd00::1']), /IPv6/);
    isInvalid(() => parseAttachArgs(['br1', 'web1', '0/0', '10.1.1.5/24']), /0\/0/);
    isInvalid(() => parseAttachArgs(['br1', 'web1', '10.1.1.5']), /10\.1\.1\.5\/24/);
    isInvalid(() => parseAttachArgs(['br1', 'web1', '10.1.1.5/24'], { net: 'blue' }), /--net/);
    isInvalid(() => parseAttachArgs(['br/1', 'web1', '10.1.1.5/24']));
  });
  it('IPoIB parents take a hex pkey', () => {
    assert.equal(parseAttachArgs(['ib0', 'web1', '10.1.1.5/24', '@8001']).id, '8001');
    isInvalid(() => parseAttachArgs(['ib0', 'web1', '10.1.1.5/24', '@ffff']));
  });
});
