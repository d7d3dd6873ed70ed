// A host's bridges and NICs shared by several attachments, with a real agent in a test namespace and
// namespaces as containers: one attach's --mtu does not lower the bridge for the others, an address taken
// on the bridge is refused, a bridge name another link answers to is refused before the kernel's
// "File exists" (and that link stays), and the kernel's macvlan refusals are said in fleetnet's words.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { netns, scope, sh, startAgentProc, startOvs, tempDir, testHost, uniq } from './parity-env.js';

const mtuOf = async (ns: string, dev: string) =>
  Number(/ mtu (\d+)/.exec((await sh('ip', ['-n', ns, 'link', 'show', 'dev', dev])).stdout)?.[1]);

test('--mtu 1400 on a shared bridge: its container gets 1400, the bridge and later attaches keep 1500', async (tc) => {
  const { t, p, ns, agent } = await testHost(tc);
  const [a, b, c] = (await Promise.all(['a', 'b', 'c'].map((x) => netns(t, `${p}-${x}`)))) as [string, string, string];
  const br = `br${p}`.slice(0, 15);
  assert.equal((await agent.cli(['attach', br, `netns:${a}`, '10.74.0.1/24'])).code, 0);
  const low = await agent.cli(['attach', '--mtu', '1400', br, `netns:${b}`, '10.74.0.2/24']);
  assert.equal(low.code, 0, low.stderr);
  assert.equal((await agent.cli(['attach', br, `netns:${c}`, '10.74.0.3/24'])).code, 0);
  assert.deepEqual(
    [await mtuOf(ns, br), await mtuOf(a, 'eth1'), await mtuOf(b, 'eth1'), await mtuOf(c, 'eth1')],
    [1500, 1500, 1400, 1500],
  );
  // Full-size frames of the 1400 container pass both ways (1372 + 28 bytes of headers, not fragmented).
  for (const [from, to] of [
    [b, '10.74.0.3'],
    [c, '10.74.0.2'],
  ] as const) {
    const ping = await sh('ip', ['netns', 'exec', from, 'ping', '-c', '1', '-W', '2', '-M', 'do', '-s', '1372', to]);
    assert.equal(ping.code, 0, `${from} -> ${to}: ${ping.stdout}`);
  }

  // The address another container holds on this bridge: exit 1 naming it, nothing made in the new one.
  const d = await netns(t, `${p}-d`);
  const dup = await agent.cli(['attach', br, `netns:${d}`, '10.74.0.2/16']);
  assert.equal(dup.code, 1, dup.stdout);
  assert.match(dup.stderr, new RegExp(`10\\.74\\.0\\.2 is already used on ${br} by netns ${b} \\(eth1\\)`));
  assert.match(dup.stderr, new RegExp(`hint: .*fleetnet detach ${b} -i eth1`));
  assert.doesNotMatch((await sh('ip', ['-n', d, 'link'])).stdout, /eth1/);
});

test('a bridge name another link answers to: exit 2 naming it, the link left as it is', async (tc) => {
  const { t, p, ns, agent, links } = await testHost(tc);
  const c = await netns(t, `${p}-c`);
  await sh('ip', ['-n', ns, 'link', 'add', 'hv0', 'type', 'veth', 'peer', 'name', 'hv0p']);
  await sh('ip', ['-n', ns, 'link', 'property', 'add', 'dev', 'hv0', 'altname', 'br-alt']);
  const before = await links();
  const alt = await agent.cli(['attach', 'br-alt', `netns:${c}`, '10.74.1.1/24']);
  assert.equal(alt.code, 2, alt.stdout);
  assert.match(alt.stderr, /Linux bridge named 'br-alt': 'br-alt' is an alternative name of 'hv0', a veth/);
  const kind = await agent.cli(['attach', '--kind', 'bridge', 'hv0', `netns:${c}`, '10.74.1.1/24']);
  assert.equal(kind.code, 2, kind.stdout);
  assert.match(kind.stderr, /'hv0' exists and is a veth, not a Linux bridge/);
  assert.deepEqual(await links(), before, 'hv0 and its peer are still there, nothing was made');
});

test('Open vSwitch: --kind ovs onto a veth of that name is refused; an OVS bridge keeps its MTU', async (tc) => {
  const t = scope(tc);
  const p = uniq();
  const ns = await netns(t, `${p}-host`);
  const dir = tempDir(t, p);
  const db = await startOvs(t, ns, dir);
  const agent = await startAgentProc(t, dir, { ns, ovsDb: db, datapath: 'netdev' });
  const [a, b] = (await Promise.all(['a', 'b'].map((x) => netns(t, `${p}-${x}`)))) as [string, string];
  const vsctl = (...args: string[]) => sh('ovs-vsctl', [`--db=${db}`, ...args]);
  await sh('ip', ['-n', ns, 'link', 'add', 'ovsv0', 'type', 'veth', 'peer', 'name', 'ovsv0p']);
  const clash = await agent.cli(['attach', '--kind', 'ovs', 'ovsv0', `netns:${a}`, '10.74.2.1/24']);
  assert.equal(clash.code, 2, clash.stdout);
  assert.match(clash.stderr, /Open vSwitch bridge named 'ovsv0': 'ovsv0' is a veth/);
  assert.equal((await vsctl('list-br')).stdout.trim(), '', 'no OVS bridge was made');

  const br = `ovs${p}`.slice(0, 15);
  assert.equal((await agent.cli(['attach', br, `netns:${a}`, '10.74.2.1/24'])).code, 0);
  const low = await agent.cli(['attach', '--mtu', '1400', br, `netns:${b}`, '10.74.2.2/24']);
  assert.equal(low.code, 0, low.stderr);
  assert.equal(await mtuOf(b, 'eth1'), 1400);
  const ports = (await vsctl('list-ports', br)).stdout.trim().split('\n');
  assert.deepEqual(await Promise.all([br, ...ports].map((x) => mtuOf(ns, x))), [1500, 1500, 1500]);
});

test('macvlan: the passthru refusals name the holder and the way out', async (tc) => {
  const { t, p, ns, agent } = await testHost(tc);
  const [a, b] = (await Promise.all(['a', 'b'].map((x) => netns(t, `${p}-${x}`)))) as [string, string];
  await sh('ip', ['-n', ns, 'link', 'add', 'nic0', 'type', 'veth', 'peer', 'name', 'nic0p']);
  const first = await agent.cli(['attach', '--macvlan-mode', 'passthru', 'nic0', `netns:${a}`, '10.74.3.1/24']);
  assert.equal(first.code, 0, first.stderr);
  const second = await agent.cli(['attach', '--macvlan-mode', 'passthru', 'nic0', `netns:${b}`, '10.74.3.2/24']);
  assert.equal(second.code, 1, second.stdout);
  assert.match(second.stderr, new RegExp(`nic0 already has a macvlan \\(netns ${a} \\(eth1\\)\\): a passthru`));
  assert.match(second.stderr, new RegExp(`hint: .*fleetnet detach ${a} -i eth1`));
  const bridged = await agent.cli(['attach', 'nic0', `netns:${b}`, '10.74.3.2/24']);
  assert.equal(bridged.code, 1, bridged.stdout);
  assert.match(bridged.stderr, /nic0 carries a passthru macvlan .*which takes no other macvlan \(the kernel answered/);
  const big = await agent.cli(['attach', '--mtu', '9000', 'nic0', `netns:${b}`, '10.74.3.3/24']);
  assert.equal(big.code, 2, big.stdout);
  assert.match(big.stderr, /MTU 9000 is above nic0's \(1500\)/);
  assert.doesNotMatch((await sh('ip', ['-n', b, 'link'])).stdout, /eth1|fn[0-9a-f]{12}/, 'nothing left in b');
});
