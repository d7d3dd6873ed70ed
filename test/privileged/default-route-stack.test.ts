// Default routes that @gateway replaced form a stack per container: detaching an interface whose default a later
// attach replaced changes no route, and hands its saved route down, so a later detach restores what was there
// before, never a route through an interface that is gone. `check` reports a container whose default route goes
// through none of the gateways fleetnet set there (drift).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { netns, sh, testHost } from './parity-env.js';

interface Finding {
  kind: string;
  subject: string;
  detail: string;
}

test('detach -i of an interface below the top leaves the default; the stack restores what was before', async (tc) => {
  const { t, p, agent } = await testHost(tc);
  const ctr = await netns(t, `${p}-g1`);
  const target = `netns:${ctr}`;
  const defaults = async () =>
    (await sh('ip', ['-n', ctr, '-4', 'route', 'show', 'default'])).stdout.trim().replace(/\s+/g, ' ');
  // What the container had before fleetnet: its own default route through d0.
  await sh('ip', ['-n', ctr, 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd0p']);
  await sh('ip', ['-n', ctr, 'addr', 'add', '10.1.9.61/24', 'dev', 'd0']);
  for (const l of ['d0', 'd0p']) await sh('ip', ['-n', ctr, 'link', 'set', l, 'up']);
  await sh('ip', ['-n', ctr, 'route', 'add', 'default', 'via', '10.1.9.1', 'dev', 'd0']);

  for (const [ifname, net] of [
    ['eth1', '1'],
    ['eth2', '7'],
    ['eth3', '8'],
  ] as const) {
    const r = await agent.cli(['attach', 'br1', '-i', ifname, target, `10.1.${net}.61/24@10.1.${net}.1`]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  }
  assert.match(await defaults(), /^default via 10\.1\.8\.1 dev eth3\b/);

  let r = await agent.cli(['detach', target, '-i', 'eth2']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(await defaults(), /^default via 10\.1\.8\.1 dev eth3\b/, 'eth3 still holds the default');
  const check = await agent.cli(['check', '--json']);
  assert.equal(check.code, 0, check.stdout + check.stderr);

  r = await agent.cli(['detach', target, '-i', 'eth1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(await defaults(), /^default via 10\.1\.8\.1 dev eth3\b/, 'still eth3');

  // eth3 saved eth2's route; eth2's detach handed it eth1's, eth1's detach the container's own.
  r = await agent.cli(['detach', target, '-i', 'eth3']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(await defaults(), /^default via 10\.1\.9\.1 dev d0\b/, 'what the container had before fleetnet');
});

test('check: a container whose default route goes through none of its @gateways is drift', async (tc) => {
  const { t, p, agent } = await testHost(tc);
  const ctr = await netns(t, `${p}-g2`);
  const target = `netns:${ctr}`;
  await sh('ip', ['-n', ctr, 'link', 'add', 'd0', 'type', 'veth', 'peer', 'name', 'd0p']);
  await sh('ip', ['-n', ctr, 'addr', 'add', '10.2.9.5/24', 'dev', 'd0']);
  for (const l of ['d0', 'd0p']) await sh('ip', ['-n', ctr, 'link', 'set', l, 'up']);
  for (const [ifname, net] of [
    ['eth1', '21'],
    ['eth2', '22'],
  ] as const) {
    const r = await agent.cli(['attach', 'br2', '-i', ifname, target, `10.2.${net}.5/24@10.2.${net}.1`]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
  }
  const isDrift = (f: Finding) => f.kind === 'drift';
  const check = async () => {
    const c = await agent.cli(['check', '--json']);
    return { code: c.code, drift: (JSON.parse(c.stdout) as { findings: Finding[] }).findings.filter(isDrift) };
  };
  assert.deepEqual(await check(), { code: 0, drift: [] });

  await sh('ip', ['-n', ctr, 'route', 'del', 'default']);
  let c = await check();
  assert.equal(c.code, 1);
  assert.equal(c.drift.length, 1, JSON.stringify(c.drift));
  assert.equal(c.drift[0]!.subject, `${ctr}/eth2`, 'named after the last @gateway');
  assert.match(c.drift[0]!.detail, /default route \(@10\.2\.22\.1.*missing.*now: none/);

  // A default through something fleetnet did not set is drift too.
  await sh('ip', ['-n', ctr, 'route', 'add', 'default', 'via', '10.2.9.1', 'dev', 'd0']);
  c = await check();
  assert.equal(c.code, 1);
  assert.match(c.drift[0]?.detail ?? '', /now: via 10\.2\.9\.1 dev d0/);

  // Through the gateway of an attachment below the top (set by hand): one fleetnet set, not drift.
  await sh('ip', ['-n', ctr, 'route', 'replace', 'default', 'via', '10.2.21.1', 'dev', 'eth1']);
  assert.deepEqual(await check(), { code: 0, drift: [] });
});
