// One shape per thing in the CLI's JSON, through a controller (agents in memory): `attach --json` prints the
// attachment as its `ls --json` row (common/ls-schema.ts) plus `changed`, `detach --json` the same row, and
// `vlan` is a string everywhere ('' for none: networks said 0, attachments ''), in the network mesh add/rm carry too.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LsEntry, LsOutput } from '../../common/ls-schema.js';
import { controllerWithCli, quietMeshLinks } from '../helpers/controller-cli.js';

test('attach and detach --json print ls --json rows; vlan is a string, "" for none, in nets too', async (t) => {
  const { cli } = await controllerWithCli(t);
  const json = async (...args: string[]) => {
    const r = await cli(...args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
    return JSON.parse(r.out) as Record<string, unknown>;
  };
  await json('host', 'add', 'h1', '--addr', '10.99.0.11', '--json');
  assert.equal((await json('net', 'create', 'blue', '--subnet', '10.1.1.0/24', '--json')).vlan, '');
  const red = await json('net', 'create', 'red', '--subnet', '10.2.0.0/24', '--kind', 'ovs', '--vlan', '12', '--json');
  assert.equal(red.vlan, '12');

  const { changed, ...row } = await json('attach', '--host', 'h1', 'web1', '10.1.1.5/24', '--json');
  assert.equal(changed, true);
  const entry = LsEntry.parse(row); // strict: exactly the ls fields
  assert.deepEqual([entry.container, entry.network, entry.vlan], ['web1', 'blue', '']);
  const tagged = await json('attach', '--host', 'h1', '--net', 'red', 'web2', '--json');
  assert.equal(tagged.vlan, '12');
  const ls = LsOutput.parse(await json('ls', '--json'));
  assert.deepEqual(
    ls.find((r) => r.id === entry.id),
    entry,
  );
  assert.equal((await json('attach', '--host', 'h1', 'web1', '10.1.1.5/24', '--json')).changed, false);

  const nets = (await json('nets', '-o', 'json')) as unknown as { name: string; vlan: unknown }[];
  assert.deepEqual(
    nets.map((n) => [n.name, n.vlan]),
    [
      ['blue', ''],
      ['red', '12'],
    ],
  );
  const gone = await json('detach', '--host', 'h1', 'web1', '--json');
  assert.equal(gone.found, true);
  assert.deepEqual(Object.keys(LsEntry.parse(gone.attachment)), Object.keys(entry));
});

test('mesh add/rm and host add --join --json: the network they carry has vlan as a string, "" for none', async (t) => {
  const { cli } = await controllerWithCli(t, undefined, { resyncMs: 3_600_000 }, quietMeshLinks);
  const json = async (...args: string[]) => {
    const r = await cli(...args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
    return JSON.parse(r.out) as { network: { vlan: unknown }; joined: { network: { vlan: unknown } }[] };
  };
  await json('host', 'add', 'h1', '--addr', '10.99.0.11', '--json');
  const ovs = ['--kind', 'ovs', '--mesh', 'gre', '--json'];
  await json('net', 'create', 'blue', '--subnet', '10.1.1.0/24', '--bridge', 'ovs-blue', '--vlan', '41', ...ovs);
  await json('net', 'create', 'red', '--subnet', '10.2.1.0/24', '--bridge', 'ovs-red', ...ovs);
  assert.equal((await json('mesh', 'add', 'h1', '--net', 'blue', '--json')).network.vlan, '41');
  assert.equal((await json('mesh', 'add', 'h1', '--net', 'red', '--json')).network.vlan, '');
  assert.equal((await json('mesh', 'rm', 'h1', '--net', 'blue', '--json')).network.vlan, '41');
  const joined = await json('host', 'add', 'h2', '--addr', '10.99.0.12', '--join', 'blue', '--json');
  assert.deepEqual(
    joined.joined.map((j) => j.network.vlan),
    ['41'],
  );
});
