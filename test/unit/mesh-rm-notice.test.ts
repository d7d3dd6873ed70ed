// `fleetnet mesh rm`: a host leaving a network's mesh keeps its attachments on that network, but they reach no
// container on another host any more. The command says so on stderr (which ones, how to join again or detach),
// and says nothing when no attachment is left behind. Through a controller whose agents are in memory.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cliSteps, controllerWithCli, quietMeshLinks, THREE_HOSTS } from '../helpers/controller-cli.js';

test('mesh rm: attachments left on a host that left the mesh are named on stderr', async (t) => {
  const { cli } = await controllerWithCli(t, undefined, { resyncMs: 3_600_000 }, quietMeshLinks);
  await cliSteps(cli, [
    ...THREE_HOSTS,
    ['net', 'create', 'blue', '--subnet', '10.1.1.0/24', '--kind', 'ovs', '--bridge', 'ovs-blue', '--mesh', 'gre'],
    ['mesh', 'add', 'h1', 'h2', 'h3', '--net', 'blue'],
    ['attach', '--host', 'h1', 'web1', '10.1.1.5/24'],
    ['attach', '--host', 'h1', 'web2', '-i', 'eth2', '10.1.1.6/24'],
    ['attach', '--host', 'h2', 'web3', '10.1.1.7/24'],
  ]);
  const rm = await cli('mesh', 'rm', 'h1', 'h3', '--net', 'blue', '--json');
  assert.equal(rm.code, 0, rm.err);
  JSON.parse(rm.out); // stdout stays JSON
  const notice = [
    'fleetnet: h1 left the mesh of blue with 2 attachment(s) on blue still there (web1 eth1, web2 eth2): ' +
      'they reach no container on another host now',
    '  join it again: fleetnet mesh add h1 --net blue',
    '  or detach each: fleetnet detach --host h1 web1',
    '',
  ].join('\n');
  assert.ok(rm.err.endsWith(notice), rm.err);
  assert.doesNotMatch(rm.err, /h3 left|h2 left/, 'h3 has no attachment there, h2 stays');
  // Nothing left behind, or nothing changed: no notice.
  const none = await cli('mesh', 'rm', 'h3', '--net', 'blue');
  assert.equal(none.code, 0, none.err);
  assert.doesNotMatch(none.err, /left the mesh/);
});
