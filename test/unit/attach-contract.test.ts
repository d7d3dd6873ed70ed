// The attach contract (common/attach/): every rule refused the same way at every edge — CLI words,
// a `fleetnet.attach=` container label, the agent's AttachRequest, the controller's
// FleetAttachRequest — with a message naming the value and a hint; the codec round-trips; the
// request fingerprints keep their stored form.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import {
  agentFingerprint,
  attachRequestOf,
  attachSpecOfFleetRequest,
  attachSpecOfRequest,
  fleetAttachRequestOf,
  fleetFingerprint,
  parseAttachLabel,
  parseAttachWords,
  parseMtu,
  type AttachOptionWords,
} from '../../common/attach/index.js';
import { FleetnetError } from '../../common/errors.js';
import { parseNewIfName } from '../../common/ifname.js';
import { attachOrderFromProto } from '../../agent/service/convert.js';
import { attachInputFromProto } from '../../controller/service/convert.js';
import { buildNetwork } from '../../controller/ipam/network-spec.js';
import { register as registerNet } from '../../cli/commands/net.js';
import type { AttachRequest } from '../../proto/gen/fleetnet/v1/agent.js';
import { attachRequest, fleetAttachRequest } from '../helpers/attach-request.js';
import type { FleetAttachRequest } from '../../proto/gen/fleetnet/v1/controller.js';

const AGENT = attachRequest();
const FLEET: FleetAttachRequest = fleetAttachRequest('h1', '', 'web1', { addresses: AGENT.addresses });

/** One refusal at every edge: the CLI words (HOSTIF web1 ADDRESS...), the same as a label, and the proto fields. */
interface Case {
  what: string;
  addrs: string[];
  opts?: AttachOptionWords;
  proto: Partial<AttachRequest> & Partial<FleetAttachRequest>;
  /** What the message must name (the value), and what the hint must offer. */
  names: RegExp;
  fleet?: false;
}

const st = (cidr: string, gateway = '') => ({ static: { cidr, gateway } });
const CASES: Case[] = [
  {
    what: 'a gateway outside the subnet',
    addrs: ['10.1.1.5/24@10.2.0.1'],
    proto: { addresses: [st('10.1.1.5/24', '10.2.0.1')] },
    names: /10\.2\.0\.1.*10\.1\.1\.0\/24/,
  },
  {
    what: 'an IPv6 gateway outside the subnet',
    addrs: ['fd00:1::5/64@fd00:2::1'],
    proto: { addresses: [st('fd00:1::5/64', 'fd00:2::1')] },
    names: /fd00:2::1/,
  },
  {
    what: 'the network address',
    addrs: ['10.1.1.0/24'],
    proto: { addresses: [st('10.1.1.0/24')] },
    names: /10\.1\.1\.0 is the network address/,
  },
  {
    what: 'the broadcast address',
    addrs: ['10.1.1.255/24'],
    proto: { addresses: [st('10.1.1.255/24')] },
    names: /10\.1\.1\.255 is the broadcast address/,
  },
  {
    what: '-i with a shell substitution',
    addrs: ['10.1.1.5/24'],
    opts: { ifname: '$(id)' },
    proto: { ifname: '$(id)' },
    names: /'\$\(id\)'/,
  },
  {
    what: '-i with a semicolon',
    addrs: ['10.1.1.5/24'],
    opts: { ifname: 'a;b' },
    proto: { ifname: 'a;b' },
    names: /'a;b'/,
  },
  {
    what: '-i with a non-ASCII letter',
    addrs: ['10.1.1.5/24'],
    opts: { ifname: 'ëth1' },
    proto: { ifname: 'ëth1' },
    names: /'ëth1'/,
  },
  {
    what: '-l with a shell substitution',
    addrs: ['10.1.1.5/24'],
    opts: { hostIfname: '$(id)' },
    proto: { hostIfname: '$(id)' },
    names: /'\$\(id\)'/,
    fleet: false,
  },
  {
    what: '-l with a semicolon',
    addrs: ['10.1.1.5/24'],
    opts: { hostIfname: 'a;b' },
    proto: { hostIfname: 'a;b' },
    names: /'a;b'/,
    fleet: false,
  },
  {
    what: '-l with a non-ASCII letter',
    addrs: ['10.1.1.5/24'],
    opts: { hostIfname: 'ëth1' },
    proto: { hostIfname: 'ëth1' },
    names: /'ëth1'/,
    fleet: false,
  },
  { what: 'an MTU below 68', addrs: ['10.1.1.5/24'], opts: { mtu: '67' }, proto: { mtu: 67 }, names: /67/ },
  { what: 'an MTU above 65535', addrs: ['10.1.1.5/24'], opts: { mtu: '65536' }, proto: { mtu: 65536 }, names: /65536/ },
  {
    what: '0/0 with another address',
    addrs: ['0/0', '10.1.1.5/24'],
    proto: { addresses: [{ none: true }, st('10.1.1.5/24')] },
    names: /0\/0/,
  },
  {
    what: 'the same address twice',
    addrs: ['10.1.9.5/24', '10.1.9.5/24'],
    proto: { addresses: [st('10.1.9.5/24'), st('10.1.9.5/24')] },
    names: /10\.1\.9\.5 is given twice/,
  },
  {
    what: 'the same address twice, with other prefix lengths',
    addrs: ['fd00::5/64', 'fd00::5/48'],
    proto: { addresses: [st('fd00::5/64'), st('fd00::5/48')] },
    names: /fd00::5 is given twice/,
  },
  {
    what: 'an IPv6 loopback address',
    addrs: ['::1/128'],
    proto: { addresses: [st('::1/128')] },
    names: /::1\/128.*loopback/,
  },
  {
    what: 'an IPv4 loopback address',
    addrs: ['127.0.0.5/8'],
    proto: { addresses: [st('127.0.0.5/8')] },
    names: /127\.0\.0\.5\/8.*loopback/,
  },
  { what: '-i lo', addrs: ['10.1.1.5/24'], opts: { ifname: 'lo' }, proto: { ifname: 'lo' }, names: /'lo'/ },
  {
    what: 'two DHCP clients',
    addrs: ['udhcpc', 'dhclient'],
    proto: { addresses: [{ dhcp: { client: 'udhcpc', options: '' } }, { dhcp: { client: 'dhclient', options: '' } }] },
    names: /one DHCP client/,
  },
];

function refused(fn: () => unknown, c: Case, edge: string): void {
  assert.throws(
    fn,
    (e: unknown) => {
      assert.ok(e instanceof FleetnetError, `${c.what} (${edge}): ${String(e)}`);
      assert.equal(e.kind, 'invalid', `${c.what} (${edge})`);
      assert.match(e.message, c.names, `${c.what} (${edge}): the message names the value`);
      return true;
    },
    `${c.what} (${edge}) was accepted`,
  );
}

const labelOf = (c: Case) =>
  [
    'br1',
    ...c.addrs,
    ...(c.opts?.ifname ? ['-i', String(c.opts.ifname)] : []),
    ...(c.opts?.hostIfname ? ['-l', String(c.opts.hostIfname)] : []),
    ...(c.opts?.mtu ? ['--mtu', String(c.opts.mtu)] : []),
  ].join(' ');

describe('attach rules, at every edge', () => {
  for (const c of CASES) {
    it(`refuses ${c.what}`, () => {
      refused(() => parseAttachWords(['br1', 'web1', ...c.addrs], c.opts), c, 'CLI words');
      if (!c.opts?.hostIfname)
        refused(() => parseAttachWords(['web1', ...c.addrs], c.opts), c, 'CLI words, fleet form');
      refused(() => parseAttachLabel(labelOf(c), { kind: 'docker', value: 'web1' }), c, 'label');
      refused(() => attachSpecOfRequest({ ...AGENT, ...c.proto }), c, 'AttachRequest');
      refused(() => attachOrderFromProto({ ...AGENT, ...c.proto }), c, 'agent edge');
      if (c.fleet !== false) {
        refused(() => attachSpecOfFleetRequest({ ...FLEET, ...c.proto }), c, 'FleetAttachRequest');
        refused(() => attachInputFromProto({ ...FLEET, ...c.proto }), c, 'controller edge');
      }
    });
  }

  it('every refusal carries a hint, or says the fix in its message', () => {
    for (const c of CASES) {
      try {
        parseAttachWords(['br1', 'web1', ...c.addrs], c.opts);
      } catch (e) {
        const err = e as FleetnetError;
        assert.ok(err.hint || /one DHCP client/.test(err.message), `${c.what}: ${err.message}`);
      }
    }
  });

  it(
    'accepts what the rules allow: ' + '/31 and /32 ends, a gateway inside, an IPv6 link-local gateway, the edge MTUs',
    () => {
      for (const w of [
        '10.1.1.0/31',
        '10.1.1.1/31',
        '10.1.1.0/32',
        '10.1.1.255/32',
        '10.1.1.254/24@10.1.1.1',
        'fd00::5/64@fe80::1',
        'fd00::/64',
      ]) {
        assert.equal(parseAttachWords(['br1', 'web1', w]).addresses.length, 1, w);
        assert.equal(
          attachSpecOfRequest({ ...AGENT, addresses: [st(w.split('@')[0]!, w.split('@')[1] ?? '')] }).addresses.length,
          1,
          w,
        );
      }
      assert.equal(parseMtu(68), 68);
      assert.equal(parseMtu('65535'), 65535);
      for (const n of ['eth1', 'e-1_2.x', 'A'.repeat(15)]) assert.equal(parseNewIfName(n), n);
      for (const n of ['.', '..', 'a'.repeat(16), '-x', 'a b', 'a/b', 'é'])
        assert.throws(() => parseNewIfName(n), FleetnetError, n);
    },
  );

  it('a label is the attach grammar, host interface first, with options anywhere; bad labels are refused', () => {
    const s = parseAttachLabel(' br1  192.168.1.10/24@192.168.1.254 -i eth2 U:web1@10 --mtu 1400 ', {
      kind: 'docker',
      value: 'web1',
    });
    assert.deepEqual(
      [
        s.hostIf,
        s.target,
        s.ifname,
        s.addresses.map((a) => a.kind === 'static' && a.cidr.text),
        s.mac.kind,
        s.id,
        s.mtu,
      ],
      ['br1', { kind: 'docker', value: 'web1' }, 'eth2', ['192.168.1.10/24'], 'string', '10', 1400],
    );
    for (const bad of [
      '',
      '10.1.1.5/24',
      'br1 web1 10.1.1.5/24',
      'br1 10.1.1.5/24 -i',
      'br1 10.1.1.5/24 --rm x',
      'br1 10.1.1.5/24 @4095',
    ]) {
      assert.throws(() => parseAttachLabel(bad, { kind: 'docker', value: 'web1' }), FleetnetError, bad);
    }
  });
});

describe('the proto codec', () => {
  it('AttachSpec → AttachRequest → AttachSpec is the identity', () => {
    const spec = parseAttachWords(['br1', 'web1', '10.1.1.5/24@10.1.1.1', 'fd00::5/64', 'U:web1@10'], {
      ifname: 'eth2',
      hostIfname: 'veth-web1',
      mtu: '1400',
      kind: 'bridge',
      vlanFiltering: true,
      trunk: 'eth0',
      dhcpDns: true,
    });
    const back = attachSpecOfRequest(attachRequestOf(spec));
    assert.deepEqual(back, spec);
    const dhcp = parseAttachWords(['ovs1', 'pid:42', 'udhcpc:-O,ntpsrv'], {
      ovsDatapath: 'netdev',
      dhcpOneshot: true,
      dryRun: true,
    });
    assert.deepEqual(attachSpecOfRequest(attachRequestOf(dhcp)), dhcp);
    const mv = parseAttachWords(['eth0', 'netns:blue', '0/0', '02:12:34:56:78:9a'], { macvlanMode: 'private' });
    assert.deepEqual(attachSpecOfRequest(attachRequestOf(mv)), mv);
  });

  it('AttachSpec → FleetAttachRequest → AttachSpec keeps what the controller takes', () => {
    const spec = parseAttachWords(['web1', '10.1.1.5/24@10.1.1.1', '02:12:34:56:78:9a@7'], {
      ifname: 'eth3',
      mtu: '9000',
    });
    const req = fleetAttachRequestOf(spec, { host: 'h2', waitMs: 500 });
    assert.deepEqual([req.host, req.waitMs, req.mac, req.vlan, req.mtu], ['h2', 500, '02:12:34:56:78:9a', '7', 9000]);
    const { host, ...back } = attachSpecOfFleetRequest(req);
    assert.equal(host, 'h2');
    assert.deepEqual(back, spec);
    const net = parseAttachWords(['web1'], { net: 'blue' });
    assert.deepEqual(attachSpecOfFleetRequest(fleetAttachRequestOf(net, { host: 'h2', waitMs: 0 })), {
      ...net,
      host: 'h2',
    });
  });
});

describe('request fingerprints', () => {
  it('keep the form stored in existing records (agent and controller)', () => {
    const spec = parseAttachWords(['br1', 'web1', '10.1.1.5/24@10.1.1.1', 'dhcp'], { mtu: '1400' });
    assert.equal(
      agentFingerprint({ ...spec, hostIf: spec.hostIf! }),
      '{"hostIf":"br1","kind":"","addrs":["10.1.1.5/24@10.1.1.1","dhcp:dhcp:"],' +
        '"mac":"auto","id":"","mtu":1400,"hostIfname":""}',
    );
    assert.equal(
      agentFingerprint({ ...spec, hostIf: spec.hostIf!, macvlanMode: 'vepa', trunk: parseNewIfName('eth0') }),
      '{"hostIf":"br1","kind":"","addrs":["10.1.1.5/24@10.1.1.1","dhcp:dhcp:"],' +
        '"mac":"auto","id":"","mtu":1400,"hostIfname":"","macvlanMode":"vepa","trunk":"eth0"}',
    );
    const u = parseAttachWords(['web1', 'fd00::5/64', '10.1.1.5/24', 'U:myhost.foo.com'], {});
    assert.equal(
      fleetFingerprint({ ...u, vlan: '5' }, 'blue'),
      '{"net":"blue","addrs":["10.1.1.5/24@","fd00::5/64@"],"mac":"02:72:6c:cd:9b:8d","vlan":"5","mtu":0}',
    );
  });
});

describe('net create', () => {
  it('refuses a bridge name fleetnet would not create, a multicast subnet, VLAN 0 and a bad MTU', async () => {
    const base = { name: 'blue', subnets: ['10.1.1.0/24'] };
    const bad: [string, object, RegExp][] = [
      ['--bridge br;x', { bridge: 'br;x' }, /'br;x'/],
      ['--bridge ëbr', { bridge: 'ëbr' }, /'ëbr'/],
      ['--bridge $(id)', { bridge: '$(id)' }, /'\$\(id\)'/],
      ['a multicast subnet', { subnets: ['224.0.0.0/24'] }, /224\.0\.0\.0\/24 is a multicast/],
      ['a loopback subnet', { subnets: ['127.1.0.0/16'] }, /127\.1\.0\.0\/16 is loopback/],
      ['an IPv6 multicast subnet', { subnets: ['ff02::/64'] }, /ff02::\/64 is a multicast/],
      ['VLAN 4095', { vlan: 4095 }, /4095/],
      ['MTU 67', { mtu: 67 }, /67/],
    ];
    for (const [what, patch, re] of bad) {
      assert.throws(
        () => buildNetwork({ ...base, ...patch }, 0),
        (e: unknown) => e instanceof FleetnetError && e.kind === 'invalid' && re.test(e.message) && !!e.hint,
        what,
      );
    }
    assert.equal(buildNetwork({ ...base, bridge: 'br-blue.1_a' }, 0).bridge, 'br-blue.1_a');
    // The CLI refuses --vlan 0 (the proto's 0 means "no VLAN") and a bad --mtu before it calls any controller.
    for (const [flag, value] of [
      ['--vlan', '0'],
      ['--vlan', '4095'],
      ['--mtu', '0'],
      ['--mtu', 'x'],
    ] as const) {
      const program = new Command('fleetnet').exitOverride();
      registerNet(program);
      for (const c of program.commands) c.exitOverride();
      await assert.rejects(
        program.parseAsync(['net', 'create', 'blue', '--subnet', '10.1.1.0/24', flag, value], { from: 'user' }),
        (e: unknown) => e instanceof FleetnetError && e.kind === 'invalid' && e.message.includes(value) && !!e.hint,
        `${flag} ${value}`,
      );
    }
  });
});
