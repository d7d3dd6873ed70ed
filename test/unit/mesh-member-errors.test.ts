// `fleetnet mesh add/rm` speaks of the network asked for only: another network's error on the same host is neither
// in its --json nor in its exit code. With --wait, a member's error that waiting will not mend (a refused
// configuration, a host that cannot do it) ends the wait at once with that error (exit 1, 2 for bad input); one that
// may pass does not. `mesh status --wait` and `host add --join` follow the same rule; `host add --join` of no network
// is refused before anything (exit 2). Through a controller whose agents' mesh side is in memory.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MeshLinkFactory } from '../../controller/mesh/push.js';
import type { MeshReply, MeshSpec } from '../../proto/gen/fleetnet/v1/agent.js';
import { controllerWithCli } from '../helpers/controller-cli.js';

type NetError = { network: string; message: string; kind: string };

/**
 * Agents that answer each push with the errors `errors` names for their host, and a wait for "up" that lasts its
 * whole time unless cancelled (their tunnels never come up): how long a command waited is what is measured.
 */
function agents(errors: Map<string, NetError[]>) {
  const waits: string[] = [];
  const links: MeshLinkFactory = (_addr, host) => ({
    applyMesh: async (spec: MeshSpec): Promise<MeshReply> => ({
      generation: spec.generation,
      added: spec.networks.flatMap((n) => n.tunnels).length,
      removed: 0,
      kept: 0,
      changes: 1,
      errors: errors.get(host) ?? [],
    }),
    meshStatus: async (timeoutMs, signal, q) => {
      waits.push(`${host} ${q?.waitUpMs ?? 0}`);
      await new Promise<void>((resolve, reject) => {
        if (signal?.aborted) return reject(new Error('cancelled')); // as the agent client does
        const t = setTimeout(resolve, Math.min(q?.waitUpMs ?? 0, timeoutMs));
        signal?.addEventListener('abort', () => (clearTimeout(t), reject(new Error('cancelled'))), { once: true });
      });
      const row = { network: q?.network ?? '', peerIp: '', port: 'fg0', kind: 'ovs', encap: 'gre', detail: '' };
      return { generation: 1, tunnels: [{ ...row, peer: host === 'h1' ? 'h2' : 'h1', state: 'down', checkedAtMs: 1 }] };
    },
    close: () => undefined,
  });
  return { links, waits };
}

async function fleet(t: Parameters<typeof controllerWithCli>[0], errors: Map<string, NetError[]>) {
  const a = agents(errors);
  const { cli } = await controllerWithCli(t, undefined, { resyncMs: 3_600_000 }, a.links);
  for (const i of [1, 2]) assert.equal((await cli('host', 'add', `h${i}`, '--addr', `10.99.0.${10 + i}`)).code, 0);
  for (const [name, bridge] of [
    ['blue', 'ovs-blue'],
    ['red', 'ovs-red'],
  ] as const) {
    const net = ['--subnet', `10.${name.length}.1.0/24`, '--kind', 'ovs', '--bridge', bridge, '--mesh', 'gre'];
    assert.equal((await cli('net', 'create', name, ...net)).code, 0);
  }
  return { cli, waits: a.waits };
}

type Reply = { hosts: { host: string; error: string; errorKind: string }[] };

test("another network's error on a member is not this command's: exit 0, not in --json", async (t) => {
  const red = { network: 'red', message: 'ovs-vsctl: cannot add port', kind: 'unsupported' };
  const { cli } = await fleet(t, new Map([['h2', [red]]]));
  const add = await cli('mesh', 'add', 'h1', 'h2', '--net', 'blue', '--json');
  assert.equal(add.code, 0, add.err);
  const res = JSON.parse(add.out) as Reply;
  assert.deepEqual(
    res.hosts.map((h) => [h.host, h.error, h.errorKind]),
    [
      ['h1', '', ''],
      ['h2', '', ''],
    ],
  );
  const human = await cli('mesh', 'rm', 'h2', '--net', 'blue');
  assert.equal(human.code, 0, human.err);
  assert.doesNotMatch(human.out + human.err, /red|cannot add port/);
});

test('--wait stops at an error that waiting will not mend, with that error; one that may pass is waited', async (t) => {
  const gretap = {
    network: 'blue',
    message: "network blue asks for GRE on a Linux bridge, but this host's kernel has no gretap",
    kind: 'unsupported',
  };
  const errors = new Map([['h2', [gretap]]]);
  const { cli, waits } = await fleet(t, errors);
  const t0 = Date.now();
  const add = await cli('mesh', 'add', 'h1', 'h2', '--net', 'blue', '--wait', '30', '--json');
  assert.ok(Date.now() - t0 < 15_000, `returned after ${Date.now() - t0} ms, not at the end of the wait`);
  assert.equal(add.code, 1, add.err);
  assert.match(add.err, /fleetnet: blue on h2: network blue asks for GRE .* no gretap/);
  const res = JSON.parse(add.out) as Reply & { tunnels: { host: string; state: string }[] };
  assert.deepEqual(
    res.hosts.map((h) => [h.host, h.errorKind]),
    [
      ['h1', ''],
      ['h2', 'unsupported'],
    ],
  );
  // The tunnels as they are: each member asked once more without a wait, after its wait was cut short (if any).
  assert.deepEqual(res.tunnels.map((x) => `${x.host} ${x.state}`).sort(), ['h1 down', 'h2 down']);
  assert.ok(waits.includes('h1 0') && waits.includes('h2 0'), waits.join(', '));

  // Bad input (the agent refused the configuration): exit 2, also without --wait (not "pending").
  errors.set('h2', [{ network: 'blue', message: 'network blue: MTU 70000 is not 576..65535', kind: 'invalid' }]);
  const refused = await cli('mesh', 'rm', 'h1', '--net', 'blue');
  assert.equal(refused.code, 2, refused.err);
  assert.match(refused.out, /h2: not converged: network blue: MTU 70000/);

  // An error that may pass (a command that failed): the wait goes on (here for its whole 2 s), exit 1.
  errors.set('h2', [{ network: 'blue', message: 'ovs-vsctl: timed out', kind: 'failed' }]);
  const t1 = Date.now();
  const slow = await cli('mesh', 'add', 'h1', '--net', 'blue', '--wait', '2');
  assert.ok(Date.now() - t1 >= 2000, `returned after ${Date.now() - t1} ms`);
  assert.equal(slow.code, 1, slow.err);
  assert.match(slow.out, /not up after 2 s/);
});

test('mesh status --wait stops at an error that waiting will not mend, with that error and exit code', async (t) => {
  const gretap = { network: 'blue', message: 'no gretap in this kernel', kind: 'unsupported' };
  const errors = new Map([['h2', [gretap]]]);
  const { cli } = await fleet(t, errors);
  assert.equal((await cli('mesh', 'add', 'h1', 'h2', '--net', 'blue')).code, 1);
  for (const net of [['--net', 'blue'], []]) {
    const t0 = Date.now();
    const st = await cli('mesh', 'status', ...net, '--wait', '30', '-o', 'json');
    assert.ok(Date.now() - t0 < 15_000, `returned after ${Date.now() - t0} ms, not at the end of the wait`);
    assert.equal(st.code, 1, st.err);
    assert.match(st.err, /fleetnet: blue on h2: no gretap in this kernel/);
    const res = JSON.parse(st.out) as { tunnels: { host: string; state: string }[]; errors: object[] };
    assert.deepEqual(res.errors, [{ host: 'h2', network: 'blue', error: gretap.message, errorKind: 'unsupported' }]);
    assert.deepEqual(res.tunnels.map((x) => `${x.host} ${x.state}`).sort(), ['h1 down', 'h2 down']);
  }
  // Another network's error is not this one's; bad input is exit 2, as mesh add says it.
  errors.set('h2', [{ network: 'red', message: 'MTU 70000 is not 576..65535', kind: 'invalid' }]);
  assert.equal((await cli('mesh', 'add', 'h2', '--net', 'red')).code, 2);
  const blue = await cli('mesh', 'status', '--net', 'blue', '--wait', '1');
  assert.equal(blue.code, 1, blue.err); // its tunnels are down after the wait, nothing else
  assert.doesNotMatch(blue.err, /MTU/);
  const all = await cli('mesh', 'status');
  assert.equal(all.code, 2, all.err);
  assert.match(all.err, /fleetnet: red on h2: MTU 70000/);
});

test('host add --join: an error that waiting will not mend is 1 (2 for bad input), not pending (3)', async (t) => {
  const errors = new Map<string, NetError[]>();
  const { cli } = await fleet(t, errors);
  const cases: [NetError | undefined, number][] = [
    [{ network: 'blue', message: 'no gretap in this kernel', kind: 'unsupported' }, 1],
    [{ network: 'blue', message: 'MTU 70000 is not 576..65535', kind: 'invalid' }, 2],
    [{ network: 'blue', message: 'ovs-vsctl: timed out', kind: 'failed' }, 3],
    [{ network: 'red', message: 'no gretap in this kernel', kind: 'unsupported' }, 0], // not a network it joined
  ];
  for (const [i, [e, code]] of cases.entries()) {
    const h = `h${3 + i}`;
    errors.set(h, e ? [e] : []);
    const add = await cli('host', 'add', h, '--addr', `10.99.0.${13 + i}`, '--join', 'blue');
    assert.equal(add.code, code, `${e?.kind}: ${add.out}${add.err}`);
    assert.match(add.out, new RegExp(`host ${h}: agent`), 'registered all the same');
    if (code === 1 || code === 2) assert.match(add.err, new RegExp(`fleetnet: blue on ${h}: ${e!.message}`));
    else assert.equal(add.err, '');
    errors.delete(h); // the next host's join pushes every member again
  }
});

test('host add --join NET that does not exist: exit 2 naming it and the meshed ones, before anything', async (t) => {
  const { cli } = await fleet(t, new Map());
  assert.equal((await cli('net', 'create', 'flat', '--subnet', '10.9.1.0/24')).code, 0);
  for (const how of [
    ['--ssh', 'root@127.0.0.1', '--port', '1'], // no SSH there: a bootstrap that started would fail (exit 1)
    ['--addr', '10.99.0.19'],
  ]) {
    const add = await cli('host', 'add', 'h9', ...how, '--join', 'blue', '--join', 'nosuch');
    assert.equal(add.code, 2, add.out + add.err);
    assert.match(add.err, /--join nosuch: no network named nosuch/);
    assert.match(add.err, /the networks with a mesh: blue, red \('fleetnet nets' lists every network\)/);
    const flat = await cli('host', 'add', 'h9', ...how, '--join', 'flat');
    assert.equal(flat.code, 2, flat.out + flat.err);
    assert.match(flat.err, /network flat has no mesh/);
    assert.doesNotMatch(add.out + add.err + flat.out + flat.err, /connect|token|h9: /);
  }
  assert.doesNotMatch((await cli('host', 'ls')).out, /h9/);
});
