// The CLI against a controller (on a unix socket, agents in memory): exit codes 0/1/2/3, the
// attach grammar through a controller, and the human and JSON outputs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { controllerWithCli } from '../helpers/controller-cli.js';

test('CLI through a controller: exit codes and messages', async (t) => {
  // The CLI from the sources, as a separate process (no build needed), with no user config in reach.
  const { cli, fleet } = await controllerWithCli(t);
  assert.equal((await cli('host', 'add', 'h1', '--addr', '10.99.0.11')).code, 0);
  assert.equal((await cli('host', 'add', 'h2', '--addr', '10.99.0.12')).code, 0);
  assert.equal((await cli('net', 'create', 'blue', '--subnet', '10.1.1.0/24', '--gateway', '10.1.1.1')).code, 0);

  const ok = await cli('attach', '--host', 'h1', 'web1', '10.1.1.5/24');
  assert.equal(ok.code, 0, ok.err);
  assert.match(ok.out, /^attached: web1 eth1 [0-9a-f:]{17} 10\.1\.1\.5\/24 on h1 \(blue, br-blue/);

  const bad: [string[], RegExp][] = [
    [['attach', '--host', 'nope', 'web2', '10.1.1.6/24'], /no host named nope/],
    [['attach', '--host', 'h1', '--net', 'nope', 'web2'], /no network named nope/],
    [['attach', '--host', 'h1', 'web2', '10.9.9.9/24'], /no network holds 10\.9\.9\.9/],
    [['attach', '--host', 'h1', 'web2', '10.1.1.1/24'], /gateway/],
    [['attach', '--host', 'h1', 'web2', '10.1.1.255/24'], /broadcast/],
    [['attach', '--host', 'h1', 'br1', 'web2', '10.1.1.6/24'], /names a host interface/],
    [['attach', 'web2', '10.1.1.6/24'], /needs --host/],
    [['attach', '--host', 'h1', '--kind', 'ovs', 'web2', '10.1.1.6/24'], /--kind: not carried through a controller/],
    [['attach', '--host', 'h1', '-l', 'veth9', '--dhcp-dns', 'web2', 'dhcp'], /-l\/--host-ifname, --dhcp-dns: not/],
    [['attach', '--host', 'h1', '-a', '6', 'web2', '10.1.1.6/24'], /-a 6, but 10\.1\.1\.6\/24 is IPv4/],
    [['attach', '--host', 'h1', '-a', '6', '--net', 'blue', 'web2'], /-a 6 with no address given/],
    [['attach', '--host', 'h1', 'web2'], /no address given/],
    [['net', 'create', 'averylongname1', '--subnet', '10.2.0.0/24'], /longer than 15 bytes/],
    [['host', 'add', 'h3', '--addr', 'not-an-ip'], /not an IPv4 or IPv6 address/],
  ];
  for (const [args, why] of bad) {
    const r = await cli(...args);
    assert.equal(r.code, 2, `${args.join(' ')} → ${r.code}: ${r.err}`);
    assert.match(r.err, why);
  }
  const taken = await cli('attach', '--host', 'h2', 'web9', '10.1.1.5/24');
  assert.equal(taken.code, 1);
  assert.match(taken.err, /taken by web1 \(eth1\) on host h1/);

  fleet.agents.get('10.99.0.12:7441')!.missing.add('ghost');
  const failed = await cli('attach', '--host', 'h2', '--net', 'blue', 'ghost');
  assert.equal(failed.code, 1);
  assert.match(failed.err, /attach failed on h2: no container named ghost/);
  assert.match(
    failed.err,
    /hint: it stays recorded, holding its address, .* to drop it: fleetnet detach --host h2 ghost/,
  );
  // check names it as failed (with what it holds and how to drop it), not as a leak
  const found = JSON.parse((await cli('check', '--host', 'h2', '-o', 'json')).out) as {
    findings: { kind: string; subject: string; detail: string }[];
  };
  assert.deepEqual(
    found.findings.map((f) => [f.kind, f.subject]),
    [['failed', 'ghost/eth1']],
  );
  assert.match(
    found.findings[0]!.detail,
    /no container named ghost; holds 10\.1\.1\.\d+\/24 \S+; drop it: fleetnet detach/,
  );

  fleet.agents.get('10.99.0.11:7441')!.down = true;
  const pending = await cli('attach', '--host', 'h1', '--timeout', '0.3', '--net', 'blue', 'web3');
  assert.equal(pending.code, 3, pending.err);
  assert.match(pending.err, /still pending on h1/);

  const ls = await cli('ls', '--json');
  assert.equal(ls.code, 0);
  const rows = JSON.parse(ls.out) as { container: string; state: string }[];
  // web1's host h1 does not answer: unreachable, not up (issue 11, partition).
  const states = rows.map((r) => [r.container, r.state]).sort();
  assert.deepEqual(states, [
    ['ghost', 'failed'],
    ['web1', 'unreachable'],
    ['web3', 'pending'],
  ]);
  assert.match((await cli('ls', '--host', 'h1')).out, /CONTAINER\s+HOST\s+NET/);
  assert.equal((await cli('net', 'rm', 'blue')).code, 1, 'a network with attachments stays');
  assert.equal((await cli('inspect', 'nobody')).code, 2);
});
