// `fleetnet inspect --json` has one shape (DESIGN.md's inventory schema), from a host's agent and through the
// controller: always an array of {container: {runtime, id, name, pid}, host, interfaces}, one per host and
// container, also when one matches; each interface is its `ls --json` row (less what the entry says once),
// its lease, and network-wrapper's compat fields.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildInventory, fleetInventory, type InventoryInterface } from '../../common/inventory.js';
import { Attachment } from '../../proto/gen/fleetnet/v1/controller.js';
import { controllerWithCli } from '../helpers/controller-cli.js';

const container = { runtime: 'docker', id: 'abc', name: 'web1', pid: 7 };
const lease = {
  address: '10.1.1.50/24',
  router: '10.1.1.1',
  dns: ['10.1.1.1'],
  leaseSeconds: 120,
  expiresUnixMs: 1700000000000,
  clientPid: 4242,
  client: 'udhcpc',
};
const iface = {
  ifname: 'eth1',
  hostIfname: 'fn0123',
  hostIf: 'br-blue',
  kind: 'bridge',
  mac: '02:72:6c:cd:9b:8d',
  addresses: ['10.1.1.50/24'],
  gateways: ['10.1.1.1'],
  mtu: 1500,
  vlan: '',
  state: 'up',
};

/** Every key path of a JSON value, arrays by their first item: its shape. */
const shape = (v: unknown, at = ''): string[] =>
  Array.isArray(v)
    ? [`${at}[]`, ...shape(v[0], `${at}[0]`)]
    : v && typeof v === 'object'
      ? Object.entries(v).flatMap(([k, x]) => [`${at}.${k}`, ...shape(x, `${at}.${k}`)])
      : [];

test("a host's agent and the controller give one interface the same entry", () => {
  const agent: InventoryInterface = { ...iface, attachmentId: 'a1', container: { ...container, netns: '/x' }, lease };
  const fromAgent = buildInventory('h1', [agent]);
  const att = Attachment.fromPartial({ ...iface, id: 'a1', host: 'h1', network: '', container, lease, generation: 3 });
  const fromController = fleetInventory('web1', [att]);
  assert.deepEqual(fromController, fromAgent);
  assert.deepEqual(fromAgent[0]!.container, container);
  const want = ['id', 'network', 'ifname', 'hostIf', 'hostIfname', 'kind', 'mac', 'addresses', 'gateways', 'mtu'];
  for (const k of [...want, 'vlan', 'state', 'error', 'lease', 'compat'])
    assert.ok(k in fromAgent[0]!.interfaces[0]!, `interfaces[].${k}`);
  assert.deepEqual(shape(fromAgent[0]), shape(fromController[0]));
  // a container the agent did not resolve (a netns path): named by what was asked for
  const bare = fleetInventory('ns2', [Attachment.fromPartial({ ...iface, host: 'h1', target: { kind: 'netns' } })]);
  assert.deepEqual(bare[0]!.container, { runtime: 'netns', id: '', name: 'ns2', pid: 0 });
});

test('through the controller: an array whether one host matches or two', async (t) => {
  const { cli } = await controllerWithCli(t);
  for (const [h, ip] of [
    ['h1', '10.99.0.11'],
    ['h2', '10.99.0.12'],
  ] as const)
    assert.equal((await cli('host', 'add', h, '--addr', ip)).code, 0);
  assert.equal((await cli('net', 'create', 'blue', '--subnet', '10.1.1.0/24')).code, 0);
  assert.equal((await cli('attach', '--host', 'h1', 'web1', '10.1.1.5/24')).code, 0);
  type Entry = { container: { name: string }; host: string; interfaces: { network: string }[] };
  const inspect = async (...args: string[]) => {
    const r = await cli('inspect', ...args);
    assert.equal(r.code, 0, r.err);
    return (JSON.parse(r.out) as Entry[]).map((e) => `${e.host} ${e.container.name} ${e.interfaces[0]!.network}`);
  };
  assert.deepEqual(await inspect('web1'), ['h1 web1 blue'], 'one host: an array of one');
  assert.equal((await cli('attach', '--host', 'h2', 'web1', '10.1.1.6/24')).code, 0);
  assert.deepEqual((await inspect('web1')).sort(), ['h1 web1 blue', 'h2 web1 blue'], 'two hosts: two entries');
  assert.deepEqual(await inspect('--host', 'h2', 'web1'), ['h2 web1 blue']);
});
