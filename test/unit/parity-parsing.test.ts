// route/rule/tc argv rules, pipework's other attach forms, OVS external_ids parsing, capability probes.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { probeIpoib, probeOvs } from '../../agent/linux/capabilities.js';
import { netCommandArgv } from '../../agent/linux/net-command.js';
import { parseOwnedPorts } from '../../agent/ovs/vsctl.js';
import { pipeworkForms } from '../../cli/commands/attach.js';
import { checkFamily } from '../../common/attach/index.js';
import { parseAddressToken } from '../../common/attach-args.js';
import { FleetnetError } from '../../common/errors.js';
import { FakeRunner } from '../../common/runner.js';
import { TBF_QDISC, tmp } from './parity-fixtures.js';

const isInvalid = (re: RegExp) => (e: unknown) =>
  e instanceof FleetnetError && e.kind === 'invalid' && re.test(`${e.message} ${e.hint ?? ''}`);

test('route/rule/tc: argv passes as tokens; a leading -4/-6 picks the family', () => {
  assert.deepEqual(netCommandArgv('route', ['add', '10.0.5.0/24', 'via', '192.168.2.1']), {
    cmd: 'ip',
    argv: ['route', 'add', '10.0.5.0/24', 'via', '192.168.2.1'],
  });
  assert.deepEqual(netCommandArgv('route', ['-6', 'add', 'default', 'via', 'fd00::1']), {
    cmd: 'ip',
    argv: ['-6', 'route', 'add', 'default', 'via', 'fd00::1'],
  });
  assert.deepEqual(netCommandArgv('rule', ['add', 'from', '10.1.1.5', 'table', '100']), {
    cmd: 'ip',
    argv: ['rule', 'add', 'from', '10.1.1.5', 'table', '100'],
  });
  assert.deepEqual(netCommandArgv('tc', TBF_QDISC).cmd, 'tc');
  assert.deepEqual(
    netCommandArgv('route', ['add', 'x;reboot']).argv,
    ['route', 'add', 'x;reboot'],
    'no shell: a ; is just part of a word ip will refuse',
  );
});

test('route/rule/tc: global options that reach outside, and tc bpf/exec, are refused', () => {
  for (const [tool, args] of [
    ['route', ['-batch', 'f']],
    ['route', ['-b', 'f']],
    ['route', ['-n', 'x', 'show']],
    ['rule', ['-netns', 'x']],
    ['rule', ['-net', 'x']],
    ['route', ['-force', 'show']],
    ['tc', ['-force', 'qdisc']],
    ['tc', ['-batch', 'f']],
    ['tc', ['-n', 'x', 'qdisc']],
    ['route', ['show', '--netns', 'x']],
    ['tc', ['filter', 'add', 'dev', 'eth1', 'bpf', 'obj', 'x.o']],
    ['tc', ['action', 'add', 'EXEC', 'x']],
    ['tc', ['-cf', '/etc/shadow', 'class', 'show', 'dev', 'eth1']], // reads a host file
    ['tc', ['-conf', 'f', 'class', 'show']],
    ['tc', ['-c', 'f', 'class', 'show']],
  ] as const) {
    assert.throws(
      () => netCommandArgv(tool, args as unknown as string[]),
      isInvalid(/refused/),
      `${tool} ${args.join(' ')}`,
    );
  }
  assert.deepEqual(netCommandArgv('route', ['-c', 'show']).argv, ['route', '-c', 'show'], "ip's -c is its colour");
  assert.throws(() => netCommandArgv('link', ['show']), isInvalid(/unknown tool/));
  assert.throws(() => netCommandArgv('route', []), isInvalid(/needs arguments/));
  assert.throws(() => netCommandArgv('route', ['a\nb']), isInvalid(/newline/));
});

test('pipework forms: mac:HOSTMAC, -a 4|6, --direct-phys', () => {
  assert.deepEqual(pipeworkForms(['mac:02:AA:bb:cc:dd:ee', 'web1', '10.1.1.5/24'], {}), {
    hostByMac: '02:aa:bb:cc:dd:ee',
    words: ['hostif-by-mac', 'web1', '10.1.1.5/24'],
  });
  assert.throws(() => pipeworkForms(['mac:zz', 'web1', '10.1.1.5/24'], {}), isInvalid(/not a MAC/));
  assert.throws(
    () => pipeworkForms(['eth0', 'web1', '10.1.1.5/24'], { directPhys: true }),
    isInvalid(/--direct-phys .* not supported.*macvlan-mode passthru/),
  );
  checkFamily('4', [parseAddressToken('10.1.1.5/24')]);
  checkFamily('6', [parseAddressToken('fd00::5/64')]);
  assert.throws(
    () => checkFamily('6', [parseAddressToken('10.1.1.5/24')]),
    isInvalid(/-a 6, but 10.1.1.5\/24 is IPv4.*leave -a out/),
  );
  assert.throws(() => checkFamily('5', []), isInvalid(/4 or 6/));
});

test('OVS ports fleetnet made are recognised by their external_ids', () => {
  const out = JSON.stringify({
    headings: ['name', 'external_ids'],
    data: [
      [
        'fn925cadea24ea',
        [
          'map',
          [
            ['fleetnet-attachment', '0:4242/eth1'],
            ['fleetnet-container', 'web1'],
            ['fleetnet-ifname', 'eth1'],
          ],
        ],
      ],
      ['other', ['map', [['owner', 'someone']]]],
    ],
  });
  assert.deepEqual(parseOwnedPorts(out), [
    { port: 'fn925cadea24ea', attachmentId: '0:4242/eth1', container: 'web1', ifname: 'eth1' },
  ]);
  assert.deepEqual(parseOwnedPorts(''), []);
});

test('capabilities: OVS datapaths (system needs the kernel module), IPoIB devices', async () => {
  const runner = new FakeRunner((c) => (c.cmd === 'ovs-vsctl' ? { stdout: '[netdev, system]\n' } : undefined));
  const noMod = tmp('fnp-mod-');
  const caps = await probeOvs(runner, true, { ovsDb: 'unix:/x/db.sock', sysModule: noMod });
  assert.deepEqual(
    runner.calls.map((c) => [c.cmd, ...c.args].join(' ')),
    ['ovs-vsctl --db=unix:/x/db.sock --timeout=5 get Open_vSwitch . datapath_types'],
  );
  assert.deepEqual(
    caps.map((c) => [c.name, c.available]),
    [
      ['ovs', true],
      ['ovs-netdev', true],
      ['ovs-system', false],
    ],
  );
  assert.match(caps[2]!.detail, /no Open vSwitch datapath \(openvswitch module, CONFIG_OPENVSWITCH\)/);
  mkdirSync(join(noMod, 'openvswitch'));
  assert.equal((await probeOvs(runner, true, { sysModule: noMod }))[2]!.available, true);
  const down = await probeOvs(
    new FakeRunner(() => ({
      code: 1,
      stderr: 'ovs-vsctl: unix:/x: database connection failed (No such file or directory)',
    })),
    true,
    {},
  );
  assert.ok(down.every((c) => !c.available && /no Open vSwitch database answers/.test(c.detail)));
  assert.ok(
    (await probeOvs(runner, false)).every((c) => /not installed \(Debian package openvswitch-switch\)/.test(c.detail)),
  );

  const sys = tmp('fnp-sys-');
  for (const [n, type] of [
    ['eth0', '1'],
    ['ib0', '32'],
    ['ib1', '32'],
  ]) {
    mkdirSync(join(sys, n!));
    writeFileSync(join(sys, n!, 'type'), `${type}\n`);
  }
  assert.deepEqual(probeIpoib(sys), { name: 'ipoib', available: true, detail: 'InfiniBand devices: ib0, ib1' });
  assert.equal(probeIpoib(tmp('fnp-sys-')).available, false);
});
