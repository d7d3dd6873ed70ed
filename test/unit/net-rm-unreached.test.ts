// `fleetnet net rm` of a meshed network while a member's agent does not answer: the network is removed, and the
// command names that host on stderr (its bridge and tunnels stay there until its agent answers) and exits 3, as
// `mesh rm` does for a member not reached. The members that answered are not named. Agents in memory.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FleetnetError } from '../../common/errors.js';
import type { MeshLinkFactory } from '../../controller/mesh/push.js';
import { cliSteps, controllerWithCli, quietMeshLinks, THREE_HOSTS } from '../helpers/controller-cli.js';

test('net rm of a meshed network: a member whose agent did not answer is named, exit 3', async (t) => {
  const down = new Set<string>();
  const links: MeshLinkFactory = (addr, host) => {
    const quiet = quietMeshLinks(addr, host);
    return {
      ...quiet,
      applyMesh: async (...a) => {
        if (down.has(host)) throw new FleetnetError('unavailable', `the agent of ${host} does not answer (fake)`);
        return quiet.applyMesh(...a);
      },
    };
  };
  const { cli } = await controllerWithCli(t, undefined, { resyncMs: 3_600_000 }, links);
  await cliSteps(cli, [
    ...THREE_HOSTS,
    ['net', 'create', 'blue', '--subnet', '10.1.1.0/24', '--kind', 'ovs', '--bridge', 'ovs-blue', '--mesh', 'gre'],
    ['net', 'create', 'red', '--subnet', '10.1.2.0/24', '--kind', 'ovs', '--bridge', 'ovs-red', '--mesh', 'gre'],
    ['mesh', 'add', 'h1', 'h2', 'h3', '--net', 'blue'],
    ['mesh', 'add', 'h1', 'h2', '--net', 'red'],
  ]);
  down.add('h2');
  const rm = await cli('net', 'rm', 'blue');
  assert.equal(rm.code, 3, rm.err);
  assert.equal(rm.out, 'network blue removed\n');
  assert.match(rm.err, /fleetnet: h2 did not take the removal of blue: the agent of h2 does not answer \(fake\)\n/);
  assert.match(rm.err, /its bridge and tunnels of blue stay on h2 until its agent answers/);
  assert.doesNotMatch(rm.err, /h1|h3/, 'the members that answered are not named');
  const ls = await cli('net', 'ls', '-q');
  assert.deepEqual(ls.out.split('\n').filter(Boolean), ['red'], 'blue is removed all the same');
  // --json: stdout stays JSON and carries each member's answer; every member answering: exit 0, no notice.
  down.delete('h2');
  const ok = await cli('net', 'rm', 'red', '--json');
  assert.equal(ok.code, 0, ok.err);
  const j = JSON.parse(ok.out) as { network: string; removed: boolean; hosts: { host: string; error: string }[] };
  assert.deepEqual(
    j.hosts.map((h) => [h.host, h.error]),
    [
      ['h1', ''],
      ['h2', ''],
    ],
  );
  assert.doesNotMatch(ok.err, /did not take/);
});
