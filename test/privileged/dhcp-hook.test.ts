// deploy/dhcp-hook run for real inside a scratch namespace, as each client would run it.
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseHookRecord } from '../../agent/dhcp/lease-file.js';
import { addrsOf, sh, uniquePrefix } from './dhcp-fixture.js';

test(
  'the hook configures only its interface, ' + 'validates server data and records the lease next to itself',
  async (t) => {
    const ns = uniquePrefix('hk');
    const dir = mkdtempSync(join(tmpdir(), `${ns}-`));
    const resolvBefore = readFileSync('/etc/resolv.conf', 'utf8');
    await sh.run('ip', ['netns', 'add', ns]);
    t.after(async () => {
      await sh.run('ip', ['netns', 'del', ns], { allowFail: true });
      rmSync(dir, { recursive: true, force: true });
    });
    const netns = `/run/netns/${ns}`;
    await sh.run('ip', ['-n', ns, 'link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'peer1']);
    copyFileSync('deploy/dhcp-hook', join(dir, 'hook'));
    chmodSync(join(dir, 'hook'), 0o755);
    const hook = (kind: string, args: string[], env: Record<string, string>) => {
      writeFileSync(join(dir, 'kind'), `${kind}\n`);
      return sh.run('nsenter', [`--net=${netns}`, join(dir, 'hook'), ...args], {
        env: { interface: 'eth1', ...env },
        allowFail: true,
      });
    };
    const lease = () => parseHookRecord(readFileSync(join(dir, 'lease'), 'utf8'));

    assert.equal((await hook('dhclient', [], { reason: 'PREINIT' })).code, 0);
    await hook('dhclient', [], {
      reason: 'BOUND',
      new_ip_address: '10.9.0.5',
      new_subnet_mask: '255.255.252.0',
      new_routers: '10.9.0.1',
      new_domain_name_servers: '10.9.0.1 1.1.1.1',
      new_dhcp_lease_time: '120',
    });
    assert.deepEqual(await addrsOf(netns, 'eth1'), ['10.9.0.5/22']);
    assert.equal(lease()?.prefix, 22);
    assert.deepEqual(lease()?.dns, ['10.9.0.1', '1.1.1.1']);
    const routes = await sh.run('ip', ['-n', ns, '-4', 'route', 'show', 'default']);
    assert.match(routes.stdout, /default via 10\.9\.0\.1 dev eth1/);

    // A renewal with a new address moves the interface to it.
    await hook('dhclient', [], {
      reason: 'RENEW',
      old_ip_address: '10.9.0.5',
      new_ip_address: '10.9.0.6',
      new_subnet_mask: '255.255.252.0',
      new_dhcp_lease_time: '120',
    });
    assert.deepEqual(await addrsOf(netns, 'eth1'), ['10.9.0.6/22']);

    // udhcpc's form; hostile server data is refused before it reaches `ip`.
    const bad = await hook('udhcpc', ['bound'], { ip: '10.9.0.7;touch /tmp/pwned', mask: '24' });
    assert.notEqual(bad.code, 0);
    assert.deepEqual(await addrsOf(netns, 'eth1'), ['10.9.0.6/22']);
    await hook('udhcpc', ['deconfig'], {});
    assert.deepEqual(await addrsOf(netns, 'eth1'), []);
    await hook('udhcpc', ['bound'], { ip: '10.9.0.8', mask: '24', router: '10.9.0.1', dns: '10.9.0.1', lease: '60' });
    assert.deepEqual(await addrsOf(netns, 'eth1'), ['10.9.0.8/24']);
    assert.equal(lease()?.leaseSeconds, 60);

    // dhcpcd configures the interface itself: the hook only records.
    await hook('dhcpcd', [], {
      reason: 'BOUND',
      new_ip_address: '10.9.0.9',
      new_subnet_cidr: '24',
      new_dhcp_lease_time: '30',
    });
    assert.deepEqual(await addrsOf(netns, 'eth1'), ['10.9.0.8/24']);
    assert.equal(lease()?.address, '10.9.0.9');
    await hook('dhcpcd', [], { reason: 'RELEASE' });
    assert.equal(lease()?.event, 'release');

    assert.equal(readFileSync('/etc/resolv.conf', 'utf8'), resolvBefore);
  },
);
