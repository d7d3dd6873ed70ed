// The attach grammar's word classifier (common/attach/address.ts classifyWord): a word shaped like an address
// that is not one is refused as such, wherever it stands, never read as a container, a MAC or "no address";
// `lo` is no host interface; pipework's `ADDR@N` is a gateway, its VLAN a word of its own.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  attachSpecOfRequest,
  classifyWord,
  parseAddressToken,
  parseAttachLabel,
  parseAttachWords,
} from '../../common/attach/index.js';
import { FleetnetError } from '../../common/errors.js';
import { attachRequest } from '../helpers/attach-request.js';

const T = { kind: 'netns', value: 'x' } as const;

function refused(fn: () => unknown, message: RegExp, hint: RegExp, what: string): void {
  assert.throws(
    fn,
    (e: unknown) => {
      assert.ok(e instanceof FleetnetError, `${what}: ${String(e)}`);
      assert.equal(e.kind, 'invalid', what);
      assert.match(e.message, message, what);
      assert.match(e.hint ?? '', hint, `${what}: the hint gives the form to use`);
      return true;
    },
    `${what} was accepted`,
  );
}

describe('malformed addresses are named as addresses', () => {
  // [words after HOSTIF CONTAINER, the word the refusal must name]
  const CASES: [string[], string][] = [
    [['10.1.1.300/24'], '10.1.1.300/24'],
    [['10.1.1.300/24', '10.1.1.6/24'], '10.1.1.300/24'], // was "too many words before the address"
    [['10.1.1.6/24', '10.1.1.300/24'], '10.1.1.300/24'],
    [['10.1.1/24'], '10.1.1/24'],
    [['10.1.1.300'], '10.1.1.300'],
    [['10.1.1.300/24@10.1.1.1'], '10.1.1.300/24@10.1.1.1'],
    [['fd00::zz/64'], 'fd00::zz/64'],
    [['10.1.1.6/24', 'fd00::zz/64'], 'fd00::zz/64'], // was "'fd00::zz/64' is not a MAC address"
    [['fd00:1:2/64'], 'fd00:1:2/64'],
    [['10.1.1.6/24', 'fd00::zz'], 'fd00::zz'],
    [['dhcp6'], 'dhcp6'], // was "no address given"
    [['10.1.1.6/24', 'dhclient6'], 'dhclient6'],
    [['udhcpc-v6:-t5'], 'udhcpc-v6:-t5'],
  ];
  for (const [words, bad] of CASES) {
    it(`${words.join(' ')}: '${bad}' is not a valid address`, () => {
      const message = new RegExp(`'${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}' is not a valid address`);
      const hint =
        bad.startsWith('dhc') || bad.startsWith('udhcpc') ? /dhcp, dhclient, udhcpc and dhcpcd/ : /10\.1\.1\.5\/24/;
      refused(() => parseAttachWords(['br2', 'netns:x', ...words]), message, hint, 'CLI words');
      refused(() => parseAttachWords(['netns:x', ...words]), message, hint, 'CLI words, fleet form');
      refused(() => parseAttachLabel(['br2', ...words].join(' '), T), message, hint, 'label');
    });
  }

  it('a DHCP word with a version hints at the container forms, should it be a name', () => {
    refused(() => parseAttachWords(['br2', 'dhcp6', '10.1.1.5/24']), /'dhcp6'/, /docker:dhcp6 or netns:dhcp6/, 'dhcp6');
  });

  it('the label and saved-order path (parseAddressToken) says the same', () => {
    refused(() => parseAddressToken('10.1.1.300/24'), /'10\.1\.1\.300\/24' is not a valid address/, /\//, 'token');
    refused(() => parseAddressToken('dhcp6'), /'dhcp6' is not a valid address/, /udhcpc/, 'token');
  });

  it('other words keep their meaning: host interfaces, containers, MACs, targets, DHCP clients', () => {
    const other = ['br1', 'eth0.10', 'web1', 'dhcp-server', 'dhcpd', '02:12:34:56:78:9a', '02:12:34:56:78:9a@10'];
    const more = ['U:web1.example.com', 'U:a/b', '@10', 'netns:a', 'docker:ab12', 'pid:42', '42', '/run/netns/a'];
    for (const w of [...other, ...more, 'mac:02:12:34:56:78:9a']) assert.equal(classifyWord(w), 'other', w);
    const addresses = ['10.1.1.5/24', '10.1.1.5', 'fd00::5/64@fe80::1', '0/0', 'dhcp', 'udhcpc-f', 'dhcpcd:-t 5'];
    for (const w of addresses) assert.equal(classifyWord(w), 'address', w);
    const s = parseAttachWords(['br1', 'dhcp-server', 'dhcp', '02:12:34:56:78:9a@10']);
    assert.deepEqual(
      [s.target.value, s.addresses[0]?.kind, s.mac.kind, s.id],
      ['dhcp-server', 'dhcp', 'explicit', '10'],
    );
  });
});

describe('pipework forms', () => {
  it('the VLAN (or IPoIB pkey) is a word of its own after the addresses', () => {
    assert.equal(parseAttachWords(['ovsbr0', 'web1', '10.1.1.5/24', '@10']).id, '10');
    assert.equal(parseAttachWords(['eth1', 'web1', '10.1.1.5/24', '@10']).id, '10');
    assert.equal(parseAttachWords(['ib0', 'web1', '10.2.0.5/16', '@8001']).id, '8001');
  });
  it('ADDR@N is a gateway, as in pipework: a number there is refused with the VLAN form as hint', () => {
    const gw = /gateway '20' is not an IPv4 or IPv6 address/;
    refused(() => parseAttachWords(['br2', 'web1', '10.1.9.5/24@20']), gw, /10\.1\.9\.5\/24 @20/, 'ADDR@20');
  });
});

describe('lo', () => {
  it('is no host interface, at every edge', () => {
    const re = /'lo' is the loopback interface/;
    refused(() => parseAttachWords(['lo', 'web1', '10.1.1.5/24']), re, /bridge/, 'CLI words');
    refused(() => parseAttachLabel('lo 10.1.1.5/24', T), re, /bridge/, 'label');
    refused(() => attachSpecOfRequest(attachRequest({ hostIf: 'lo' })), re, /bridge/, 'AttachRequest');
  });
});
