// DHCP pieces that need no kernel: option allowlists, exact client argv, the hook's record format,
// and the inventory schema's compat object. (The hook script runs for real in test/privileged.)
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  clientConfig,
  dhclientReleaseCommand,
  helperCommand,
  hostClientCommand,
  missingClient,
  stopSignals,
} from '../../agent/dhcp/commands.js';
import { isBound, parseHookRecord } from '../../agent/dhcp/lease-file.js';
import { dhcpHostname, parseClientOptions } from '../../agent/dhcp/options.js';
import type { DhcpStartSpec } from '../../agent/dhcp/types.js';
import { parseAddressToken } from '../../common/attach-args.js';
import { FleetnetError } from '../../common/errors.js';
import { buildInventory, compatOf } from '../../common/inventory.js';

const spec = (client: DhcpStartSpec['client'], extra: Partial<DhcpStartSpec> = {}): DhcpStartSpec => ({
  key: '3:4026532/eth1',
  netns: '/proc/42/ns/net',
  ifname: 'eth1',
  client,
  options: '',
  hostname: 'web1',
  dns: false,
  oneshot: false,
  owner: { nsKey: '3:4026532' },
  ...extra,
});
const files = { dir: '/var/lib/fleetnet/agent/dhcp/k', privateNs: '/opt/fleetnet/deploy/dhcp-private-ns' };

test('allowed options pass through; values are checked', () => {
  assert.deepEqual(parseClientOptions('udhcpc', '-O ntpsrv,-x lease:600 -t 5'), [
    '-O',
    'ntpsrv',
    '-x',
    'lease:600',
    '-t',
    '5',
  ]);
  assert.deepEqual(parseClientOptions('dhclient', '-timeout 30 -v'), ['-timeout', '30', '-v']);
  assert.deepEqual(parseClientOptions('dhcpcd', '-L -r 10.1.1.7'), ['-L', '-r', '10.1.1.7']);
  assert.deepEqual(parseClientOptions('dhcp', ''), []);
  assert.throws(() => parseClientOptions('udhcpc', '-t five'), /not a valid number/);
  assert.throws(() => parseClientOptions('udhcpc', '-r 10.1.1'), /IPv4/);
  assert.throws(() => parseClientOptions('udhcpc', '-O'), /needs a value/);
  assert.throws(() => parseClientOptions('udhcpc', '-x hostname:$(reboot)'), /not a valid optval/);
});

test('options that fight the supervisor are refused with the reason, as bad input', () => {
  for (const [client, opt, why] of [
    ['udhcpc', '-q', /quits after the lease.*--dhcp-oneshot/],
    ['udhcpc', '-b', /background/],
    ['udhcpc', '-s /tmp/x', /own hook/],
    ['dhcp', '-n', /quits when no lease/],
    ['dhclient', '-nw', /background/],
    ['dhclient', '-1', /quits/],
    ['dhclient', '-sf /x', /resolv.conf/],
    ['dhcpcd', '-b', /background/],
    ['dhcpcd', '-1', /oneshot/],
    ['dhcpcd', '-c /x', /own hook/],
    ['dhcpcd', '-6', /DHCPv6/],
  ] as const) {
    assert.throws(
      () => parseClientOptions(client, opt),
      (e: unknown) => e instanceof FleetnetError && e.kind === 'invalid' && why.test(e.message),
      `${client} ${opt}`,
    );
  }
  assert.throws(() => parseClientOptions('dhclient', '--frobnicate'), /not in fleetnet's allowlist[\s\S]*/);
});

test("pipework's -f forms map to the supervised default", () => {
  assert.deepEqual(parseAddressToken('udhcpc-f'), { kind: 'dhcp', client: 'udhcpc', options: '' });
  assert.deepEqual(parseAddressToken('dhclient-f'), { kind: 'dhcp', client: 'dhclient', options: '' });
});

test('client argv: foreground, own hook, own files, in the container namespace', () => {
  assert.deepEqual(hostClientCommand(spec('udhcpc'), files, ['-t', '5'], '10.1.1.9'), {
    cmd: 'nsenter',
    args: [
      '--net=/proc/42/ns/net',
      'udhcpc',
      '-f',
      '-R',
      '-i',
      'eth1',
      '-s',
      `${files.dir}/hook`,
      '-p',
      `${files.dir}/udhcpc.pid`,
      '-x',
      'hostname:web1',
      '-r',
      '10.1.1.9',
      '-t',
      '5',
    ],
  });
  assert.deepEqual(hostClientCommand(spec('dhclient'), files, []), {
    cmd: 'nsenter',
    args: [
      '--net=/proc/42/ns/net',
      'dhclient',
      '-sf',
      `${files.dir}/hook`,
      '-pf',
      `${files.dir}/dhclient.pid`,
      '-lf',
      `${files.dir}/dhclient.leases`,
      '-cf',
      `${files.dir}/dhclient.conf`,
      '-d',
      '-4',
      'eth1',
    ],
  });
  assert.deepEqual(hostClientCommand(spec('dhcpcd', { hostname: undefined }), files, ['-L']), {
    cmd: 'nsenter',
    args: [
      '--net=/proc/42/ns/net',
      'unshare',
      '--mount',
      '--propagation',
      'private',
      files.privateNs,
      files.dir,
      '--',
      'dhcpcd',
      '-B',
      '-4',
      '-f',
      '/var/lib/dhcpcd/dhcpcd.conf',
      '-c',
      '/var/lib/dhcpcd/hook',
      '-L',
      'eth1',
    ],
  });
  assert.deepEqual(helperCommand(spec('dhcp'), []), [
    '/bin/busybox',
    'udhcpc',
    '-f',
    '-R',
    '-i',
    'eth1',
    '-s',
    '/fleetnet/hook',
    '-x',
    'hostname:web1',
  ]);
  assert.deepEqual(dhclientReleaseCommand(spec('dhclient'), files.dir, 777).args[0], '--net=/proc/777/ns/net');
  assert.deepEqual(dhclientReleaseCommand(spec('dhclient'), files.dir, 777).args.slice(-3), ['-4', '-r', 'eth1']);
  assert.match(clientConfig(spec('dhclient'))!.text, /send host-name "web1";/);
  assert.match(clientConfig(spec('dhcpcd'))!.text, /^clientid$/m);
  assert.deepEqual(stopSignals('dhcpcd'), { release: 'SIGALRM', keep: 'SIGKILL' });
  for (const c of ['udhcpc', 'dhclient', 'dhcpcd'] as const) {
    const args = hostClientCommand(spec(c), files, []).args;
    for (const bad of ['-q', '-b', '-nw', '-1', '-n']) assert.ok(!args.includes(bad), `${c} must not get ${bad}`);
  }
});

test('a missing client names its Debian package', () => {
  assert.match(
    missingClient('dhclient').message + (missingClient('dhclient') as FleetnetError).hint,
    /isc-dhcp-client/,
  );
  assert.match((missingClient('dhcpcd') as FleetnetError).hint!, /dhcpcd-base/);
  assert.match((missingClient('udhcpc') as FleetnetError).hint!, /apt-get install udhcpc/);
});

test('container names become valid DHCP host names, or none', () => {
  assert.equal(dhcpHostname('/Web_1.prod'), 'web-1-prod');
  assert.equal(dhcpHostname('---'), undefined);
  assert.equal(dhcpHostname('a'.repeat(80))!.length, 63);
});

test('hook records: parsed strictly', () => {
  const r = parseHookRecord(
    'event=renew\naddress=10.1.1.5\nprefix=24\nrouter=10.1.1.1\n' +
      'dns=10.1.1.1 bogus 8.8.8.8\nlease=120\ntime=1000\nclient=udhcpc\n',
  );
  assert.deepEqual(r, {
    event: 'renew',
    address: '10.1.1.5',
    prefix: 24,
    router: '10.1.1.1',
    dns: ['10.1.1.1', '8.8.8.8'],
    leaseSeconds: 120,
    timeUnixMs: 1_000_000,
  });
  assert.ok(isBound(r));
  assert.equal(isBound(parseHookRecord('event=expire\naddress=\ntime=5\n')), false);
  assert.equal(parseHookRecord('event=bound\naddress=10.1.1.500\nprefix=24\ntime=5\n'), undefined);
  assert.equal(parseHookRecord('garbage'), undefined);
});

test('compat object: network-wrapper fields from a lease, or from static addresses', () => {
  const base = {
    ifname: 'eth1',
    hostIfname: 'fnabc',
    hostIf: 'br1',
    kind: 'bridge',
    mac: '02:72:6c:cd:9b:8d',
    addresses: [] as string[],
    gateways: [] as string[],
    mtu: 1500,
    vlan: '',
    state: 'up',
  };
  const lease = {
    address: '10.1.1.50/24',
    router: '10.1.1.1',
    dns: ['10.1.1.1'],
    leaseSeconds: 120,
    expiresUnixMs: '1700000000000',
    clientPid: 4242,
    client: 'udhcpc',
  };
  assert.deepEqual(compatOf({ ...base, lease }), {
    HWAddr: '02:72:6c:cd:9b:8d',
    Bridge: 'br1',
    IPAddress: '10.1.1.50',
    IPPrefixLen: 24,
    Gateway: '10.1.1.1',
    DNS: ['10.1.1.1'],
    DHCP_PID: 4242,
  });
  assert.deepEqual(compatOf({ ...base, addresses: ['fd00::5/64', '10.2.0.5/16'], gateways: ['10.2.0.1'] }), {
    HWAddr: base.mac,
    Bridge: 'br1',
    IPAddress: '10.2.0.5',
    IPPrefixLen: 16,
    Gateway: '10.2.0.1',
    DNS: [],
    DHCP_PID: 0,
  });
  const c = { runtime: 'docker', id: 'abc', name: 'web1', pid: 7 };
  const inv = buildInventory('h1', [
    { ...base, container: c, lease },
    { ...base, ifname: 'eth2', container: c },
  ]);
  assert.equal(inv.length, 1);
  assert.equal(inv[0]!.host, 'h1');
  assert.equal(inv[0]!.interfaces[0]!.lease!.expiresUnixMs, 1700000000000);
  assert.deepEqual(
    inv[0]!.interfaces.map((i) => i.compat.DHCP_PID),
    [4242, 0],
  );
});

test('the attach flow checks DHCP before anything runs', async () => {
  const { dhcpAddressOf, dhcpStartSpec } = await import('../../agent/dhcp/attach-dhcp.js');
  const ns = { runtime: 'netns' as const, id: 'blue', name: 'blue', pid: 0, netns: '/run/netns/blue', nsKey: '3:9' };
  const web = {
    runtime: 'docker' as const,
    id: 'abc123',
    name: 'Web_1',
    pid: 0,
    netns: '/proc/1/ns/net',
    nsKey: '3:10',
  };
  const dhcp = (client: DhcpStartSpec['client'], options = '') => [{ kind: 'dhcp' as const, client, options }];
  assert.equal(dhcpAddressOf([{ kind: 'none' }], ns, false), undefined);
  assert.throws(
    () => dhcpAddressOf(dhcp('dhcp'), ns, true),
    (e: unknown) => e instanceof FleetnetError && e.kind === 'invalid' && /not a Docker container/.test(e.message),
  );
  assert.throws(() => dhcpAddressOf(dhcp('udhcpc', '-b'), web, true), /-b is refused/);
  assert.throws(
    () => dhcpAddressOf(dhcp('udhcpc'), web, false),
    (e: unknown) => e instanceof FleetnetError && e.kind === 'unsupported',
  );
  const s = await dhcpStartSpec(dhcpAddressOf(dhcp('dhcp'), web, true)!, web, 'k', 'eth1', '02:00:00:00:00:01', {
    dhcpOneshot: true,
  });
  assert.deepEqual([s.hostname, s.oneshot, s.dns, s.owner.containerId], ['web-1', true, false, 'abc123']);
});
