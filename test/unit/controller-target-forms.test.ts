// inspect and detach through a controller (agents in memory) find a container by every form attach takes, as
// a host's agent does; ls and inspect through it show the MTU the interface has, as its agent reported it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { controllerWithCli } from '../helpers/controller-cli.js';

type Inventory = { container: { name: string }; host: string; interfaces: { ifname: string; mtu: number }[] }[];

test('inspect and detach through the controller take docker:, netns:, pid:, a netns path, name', async (t) => {
  const { cli } = await controllerWithCli(t);
  assert.equal((await cli('host', 'add', 'h1', '--addr', '10.99.0.11')).code, 0);
  assert.equal((await cli('net', 'create', 'blue', '--subnet', '10.1.1.0/24')).code, 0);
  for (const [target, addr] of [
    ['netns:ns1', '10.1.1.5/24'],
    ['web1', '10.1.1.6/24'],
    ['/run/netns/ns2', '10.1.1.7/24'],
  ] as const) {
    const r = await cli('attach', '--host', 'h1', target, addr);
    assert.equal(r.code, 0, `attach ${target}: ${r.err}`);
  }
  const inspect = async (ref: string) => {
    const r = await cli('inspect', ref);
    assert.equal(r.code, 0, `inspect ${ref}: exit ${r.code} ${r.err}`);
    const [e, ...more] = JSON.parse(r.out) as Inventory;
    assert.deepEqual(more, [], 'an array of one entry');
    return `${e!.container.name} ${e!.interfaces.map((i) => i.ifname).join()}`;
  };
  for (const ref of ['netns:ns1', 'ns1', '/run/netns/ns1']) assert.equal(await inspect(ref), 'ns1 eth1', ref);
  // web1 is a Docker container to its agent (fake: ID id-web1, PID 42).
  for (const ref of ['web1', 'docker:web1', 'docker:id-web1', 'pid:42', '42', '/proc/42/ns/net'])
    assert.equal(await inspect(ref), 'web1 eth1', ref);
  for (const ref of ['netns:ns2', 'ns2']) assert.equal(await inspect(ref), '/run/netns/ns2 eth1', ref);

  // A form that names something else finds nothing; one that names nothing is bad input.
  for (const ref of ['docker:ns1', 'netns:web1', 'lxc:web1', 'pid:43']) {
    const r = await cli('inspect', ref);
    assert.equal(r.code, 2, `${ref}: ${r.err}`);
    assert.match(r.err, new RegExp(`no attachment for ${ref}`));
  }
  const bad = await cli('inspect', 'pid:abc');
  assert.equal(bad.code, 2, bad.err);
  assert.match(bad.err, /'abc' is not a process id/);

  // detach: the same forms, and one that names another kind of container detaches nothing.
  const none = await cli('detach', '--host', 'h1', 'docker:ns1');
  assert.equal(none.code, 0, none.err);
  assert.match(none.out, /nothing to detach/);
  for (const ref of ['netns:ns1', 'pid:42', 'netns:ns2']) {
    const r = await cli('detach', '--host', 'h1', ref);
    assert.equal(r.code, 0, `detach ${ref}: ${r.err}`);
    assert.match(r.out, /^detached eth1 from /, ref);
  }
  const ls = await cli('ls', '--json');
  assert.deepEqual(JSON.parse(ls.out), [], 'every attachment is gone');
});

test('ls and inspect through the controller show the MTU the agent made, not the unset 0', async (t) => {
  const { cli } = await controllerWithCli(t);
  assert.equal((await cli('host', 'add', 'h1', '--addr', '10.99.0.11')).code, 0);
  assert.equal((await cli('net', 'create', 'blue', '--subnet', '10.1.1.0/24')).code, 0);
  assert.equal((await cli('attach', '--host', 'h1', 'web1', '10.1.1.5/24')).code, 0);
  assert.equal((await cli('attach', '--host', 'h1', '--mtu', '1400', 'web2', '10.1.1.6/24')).code, 0);
  const rows = JSON.parse((await cli('ls', '--json')).out) as { container: string; mtu: number }[];
  // the fake agent makes an interface with no --mtu at 1500, as a host interface of 1500 gives it
  assert.deepEqual(rows.map((r) => [r.container, r.mtu]).sort(), [
    ['web1', 1500],
    ['web2', 1400],
  ]);
  const attached = JSON.parse((await cli('attach', '--json', '--host', 'h1', 'web1', '10.1.1.5/24')).out) as {
    mtu: number;
  };
  assert.equal(attached.mtu, 1500, 'attach --json prints the same row');
  const inv = JSON.parse((await cli('inspect', 'web1')).out) as Inventory;
  assert.equal(inv[0]!.interfaces[0]!.mtu, 1500);
  assert.match((await cli('ls', '-o', 'wide')).out, /\n\s*web1 .* bridge +fn0123 +1500 /, 'ls -o wide too');
});
