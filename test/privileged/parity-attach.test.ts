// Linux bridge ownership, IPv6/dual stack, macvlan modes, route/rule/tc and capability refusal, for real:
// an agent inside a test netns (the "host"), Docker containers with --network none.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TBF_QDISC } from '../unit/parity-fixtures.js';
import { container, inContainer, sh, testHost } from './parity-env.js';

test('Linux bridge: a created bridge goes with the last detach, a found one stays', async (tc) => {
  const { t, p, ns, agent, links } = await testHost(tc);
  const [a, b] = await Promise.all([container(t, `${p}-a`, p), container(t, `${p}-b`, p)]);
  await sh('ip', ['-n', ns, 'link', 'add', 'found0', 'type', 'bridge']);
  await sh('ip', ['-n', ns, 'link', 'set', 'found0', 'up']);
  for (const [x, n] of [
    [a, 1],
    [b, 2],
  ] as const) {
    let r = await agent.cli(['attach', 'br0', x.name, `10.5.0.${n}/24`]);
    assert.equal(r.code, 0, r.stderr);
    r = await agent.cli(['attach', 'found0', '-i', 'eth2', x.name, `10.6.0.${n}/24`]);
    assert.equal(r.code, 0, r.stderr);
  }
  assert.equal((await inContainer(a.name, ['ping', '-c', '1', '-W', '2', '10.5.0.2'])).code, 0);
  assert.equal((await inContainer(a.name, ['ping', '-c', '1', '-W', '2', '10.6.0.2'])).code, 0);
  assert.equal((await agent.cli(['detach', a.name])).code, 0);
  assert.equal((await agent.cli(['detach', a.name, '-i', 'eth2'])).code, 0);
  assert.ok((await links()).includes('br0'), 'still used by b');
  assert.equal((await agent.cli(['detach', b.name, '-i', 'eth2'])).code, 0);
  assert.equal((await agent.cli(['detach', b.name])).code, 0);
  const after = await links();
  assert.ok(!after.includes('br0'), 'created bridge removed with its last attachment');
  assert.ok(after.includes('found0'), 'found bridge stays');
});

test('IPv6 and dual stack in one attach, with the IPv6 default route on the given gateway', async (tc) => {
  const { t, p, agent } = await testHost(tc);
  const [a, b] = await Promise.all([container(t, `${p}-a`, p), container(t, `${p}-b`, p)]);
  let r = await agent.cli(['attach', 'br6', a.name, '10.9.0.1/24@10.9.0.254', 'fd00:9::1/64@fd00:9::fe']);
  assert.equal(r.code, 0, r.stderr);
  r = await agent.cli(['attach', 'br6', b.name, 'fd00:9::2/64']);
  assert.equal(r.code, 0, r.stderr);
  const def6 = (await inContainer(a.name, ['ip', '-6', 'route', 'show', 'default'])).stdout.trim();
  assert.match(def6, /^default via fd00:9::fe dev eth1/);
  const def4 = (await inContainer(a.name, ['ip', '-4', 'route', 'show', 'default'])).stdout.trim();
  assert.match(def4, /^default via 10\.9\.0\.254 dev eth1/);
  const ping6 = await inContainer(b.name, ['ping', '-6', '-c', '1', '-W', '3', 'fd00:9::1']);
  assert.equal(ping6.code, 0, ping6.stdout + ping6.stderr);
  assert.equal((await agent.cli(['detach', a.name])).code, 0);
  assert.equal((await inContainer(a.name, ['ip', '-6', 'route', 'show', 'default'])).stdout.trim(), '');
});

test('macvlan on a veth that plays the NIC: bridge mode pings, private mode does not', async (tc) => {
  const { t, p, ns, agent } = await testHost(tc);
  await sh('ip', ['-n', ns, 'link', 'add', 'nic0', 'type', 'veth', 'peer', 'name', 'nic0p']);
  await sh('ip', ['-n', ns, 'link', 'set', 'nic0', 'up']);
  await sh('ip', ['-n', ns, 'link', 'set', 'nic0p', 'up']);
  const [a, b, c, d] = await Promise.all(['a', 'b', 'c', 'd'].map((x) => container(t, `${p}-${x}`, p)));
  // pipework's mac:HOSTMAC names the NIC by its MAC.
  const nicMac = (await sh('ip', ['-n', ns, '-json', 'link', 'show', 'nic0'])).stdout.match(
    /"address":"([0-9a-f:]+)"/,
  )![1]!;
  for (const [x, ip, mode] of [
    [a, '10.4.0.1', 'bridge'],
    [b, '10.4.0.2', 'bridge'],
    [c, '10.4.0.3', 'private'],
    [d, '10.4.0.4', 'private'],
  ] as const) {
    const r = await agent.cli([
      'attach',
      x === b ? `mac:${nicMac}` : 'nic0',
      x!.name,
      `${ip}/24`,
      '--macvlan-mode',
      mode,
    ]);
    assert.equal(r.code, 0, r.stderr);
  }
  const detail = (await sh('nsenter', [`--net=/proc/${a!.pid}/ns/net`, 'ip', '-d', 'link', 'show', 'eth1'])).stdout;
  assert.match(detail, /macvlan mode bridge/);
  const listed = JSON.parse((await agent.cli(['ls', '--json'])).stdout) as { hostIf: string; kind: string }[];
  assert.deepEqual(
    listed.map((i) => `${i.kind}:${i.hostIf}`),
    Array(4).fill('macvlan:nic0'),
    'mac:HOSTMAC resolved to nic0',
  );
  assert.equal((await inContainer(a!.name, ['ping', '-c', '1', '-W', '2', '10.4.0.2'])).code, 0, 'bridge mode pings');
  assert.notEqual(
    (await inContainer(c!.name, ['ping', '-c', '1', '-W', '2', '10.4.0.4'])).code,
    0,
    'private mode does not',
  );
  for (const x of [a, b, c, d]) assert.equal((await agent.cli(['detach', x!.name])).code, 0);
  assert.notEqual((await inContainer(a!.name, ['ip', 'link', 'show', 'eth1'])).code, 0, 'gone from the container');
});

test('route, rule and tc run inside the container; refused options never run', async (tc) => {
  const { t, p, agent } = await testHost(tc);
  const a = await container(t, `${p}-a`, p);
  assert.equal((await agent.cli(['attach', 'br0', a.name, '192.168.2.5/24'])).code, 0);
  let r = await agent.cli(['route', a.name, 'add', '10.0.5.0/24', 'via', '192.168.2.1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    (await inContainer(a.name, ['ip', 'route', 'show', '10.0.5.0/24'])).stdout,
    /10\.0\.5\.0\/24 via 192\.168\.2\.1 dev eth1/,
  );
  r = await agent.cli(['rule', a.name, 'add', 'from', '192.168.2.5', 'table', '100']);
  assert.equal(r.code, 0, r.stderr);
  assert.match((await inContainer(a.name, ['ip', 'rule', 'show'])).stdout, /from 192\.168\.2\.5 lookup 100/);
  r = await agent.cli(['tc', a.name, ...TBF_QDISC]);
  assert.equal(r.code, 0, r.stderr);
  r = await agent.cli(['tc', a.name, 'qdisc', 'show', 'dev', 'eth1']);
  assert.match(r.stdout, /qdisc tbf .* rate 1Mbit/);
  // Words that look like options reach the tool untouched (a leading -6 picks the family for ip).
  r = await agent.cli(['route', a.name, '-6', 'show']);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /192\.168\.2\.0/, 'the IPv6 table, not the IPv4 one');
  assert.match((await agent.cli(['route', a.name, 'show'])).stdout, /192\.168\.2\.0\/24 dev eth1/);
  r = await agent.cli(['tc', a.name, '-s', 'qdisc', 'show', 'dev', 'eth1']);
  assert.match(r.stdout, /Sent \d+ bytes/);
  for (const bad of [
    ['route', '-batch', '/etc/x'],
    ['route', '-n', 'other', 'show'],
    ['rule', '-netns', 'x', 'show'],
    ['route', '-force', 'show'],
    ['tc', 'filter', 'add', 'dev', 'eth1', 'bpf', 'obj', 'x.o'],
    ['tc', 'action', 'add', 'exec', 'x'],
  ]) {
    r = await agent.cli([bad[0]!, a.name, ...bad.slice(1)]);
    assert.equal(r.code, 2, `${bad.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, /refused/);
  }
  r = await agent.cli(['route', a.name, 'add', 'nonsense']);
  assert.equal(r.code, 1, 'a failing ip command exits 1');
});

test('capability refusal for real: this kernel has no dummy; nothing changes', async (tc) => {
  const { t, p, agent, links } = await testHost(tc);
  const a = await container(t, `${p}-a`, p);
  const before = [await links(), (await inContainer(a.name, ['ip', '-o', 'link'])).stdout];
  const r = await agent.cli(['attach', 'dummy', a.name, '10.3.0.1/24']);
  if ((await sh('unshare', ['-n', 'ip', 'link', 'add', 'fnp-du', 'type', 'dummy'], true)).code === 0) {
    tc.diagnostic('this kernel has dummy support: the attach works instead of being refused');
    assert.equal(r.code, 0, r.stderr);
    return;
  }
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /this host's kernel has no dummy support \(CONFIG_DUMMY\)/);
  assert.deepEqual([await links(), (await inContainer(a.name, ['ip', '-o', 'link'])).stdout], before);
});
