// Through the controller (issue 11): a restarted container gets its interface back (same MAC and
// address) and the controller shows it up; a removed container's address and MAC are freed so
// another container can take the address; --keep-address keeps them (stopped); labelled containers
// (fleetnet.net / fleetnet.ip / fleetnet.IF.net) are attached by the controller, a refused label shows
// in ls with its error; an agent the controller cannot reach shows unreachable, then converges; a
// simulated reboot brings every attachment back; the agent killed -9 in a burst of 30 attaches through
// the controller: everything made once, check clean.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ExecRunner } from '../../common/runner.js';
import { BUSYBOX_IMAGE, removeContainers, startContainer, TEST_LABEL } from '../helpers/docker.js';
import { startTestFleet, type TestFleet } from '../helpers/controller-fleet.js';
import { eventually } from '../helpers/poll.js';

const sh = new ExecRunner();
let fleet: TestFleet;
const c = (n: string) => `${fleet.prefix}-${n}`;

interface Row {
  container: string;
  ifname: string;
  addresses: string[];
  state: string;
  mac: string;
  error: string;
}

async function ls(): Promise<Row[]> {
  const r = await fleet.cli('ls', '--json');
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Row[];
}

const eth1 = async (name: string) => {
  const r = await sh.run('docker', ['exec', name, 'cat', '/sys/class/net/eth1/address'], { allowFail: true });
  return r.code === 0 ? r.stdout.trim() : undefined;
};

before(async () => {
  fleet = await startTestFleet({ hosts: 1, tag: 'l' });
  await fleet.startController();
  assert.equal((await fleet.cli('host', 'add', 'h1', '--addr', fleet.hosts[0]!.agentAddr)).code, 0);
  assert.equal((await fleet.cli('net', 'create', 'blue', '--subnet', '10.71.0.0/24')).code, 0);
  for (const n of ['a', 'b', 'k']) await startContainer(c(n), fleet.prefix);
});

after(async () => {
  if (fleet) await removeContainers(fleet.prefix);
  await fleet?.down();
});

test('docker restart: the interface comes back with the same MAC and address, the controller shows it up', async () => {
  const a = await fleet.cli('attach', '--host', 'h1', c('a'), '10.71.0.5/24');
  assert.equal(a.code, 0, a.stderr);
  const mac = (await ls()).find((r) => r.container === c('a'))!.mac;
  assert.equal(await eth1(c('a')), mac);
  await sh.run('docker', ['restart', '-t', '0', c('a')]);
  await eventually('eth1 back', async () => (await eth1(c('a'))) === mac);
  await eventually(
    'up in the controller',
    async () => (await ls()).find((r) => r.container === c('a'))?.state === 'up',
  );
});

test('docker rm -f: the address and MAC are freed and another container can take the address', async () => {
  await sh.run('docker', ['rm', '-f', c('a')]);
  await eventually('gone from ls', async () => !(await ls()).some((r) => r.container === c('a')));
  const b = await fleet.cli('attach', '--host', 'h1', c('b'), '10.71.0.5/24');
  assert.equal(b.code, 0, b.stderr);
});

test('--keep-address: removal keeps the address reserved (stopped)', async () => {
  const k = await fleet.cli('attach', '--host', 'h1', '--keep-address', c('k'), '10.71.0.6/24');
  assert.equal(k.code, 0, k.stderr);
  await sh.run('docker', ['rm', '-f', c('k')]);
  await eventually('stopped, kept', async () => (await ls()).find((r) => r.container === c('k'))?.state === 'stopped');
  await startContainer(c('k2'), fleet.prefix);
  const taken = await fleet.cli('attach', '--host', 'h1', c('k2'), '10.71.0.6/24');
  assert.equal(taken.code, 1, taken.stdout);
  assert.match(taken.stderr, /taken by/);
});

/** A container started with fleetnet labels (and this run's test label, for the cleanup). */
async function runLabelled(name: string, labels: string[]): Promise<void> {
  const r = await sh.run('docker', [
    'run',
    '-d',
    '--network',
    'none',
    '--name',
    name,
    '--label',
    `${TEST_LABEL}=${fleet.prefix}`,
    ...labels.flatMap((l) => ['--label', l]),
    BUSYBOX_IMAGE,
    'sleep',
    '3600',
  ]);
  assert.equal(r.code, 0, r.stderr);
}

const addrsIn = async (name: string, dev: string) => {
  const r = await sh.run('docker', ['exec', name, 'ip', '-o', '-4', 'addr', 'show', 'dev', dev], { allowFail: true });
  return r.code === 0 ? [...r.stdout.matchAll(/inet (\S+)/g)].map((m) => m[1]!) : [];
};

// fleetnet.net allocates, fleetnet.ip asks, fleetnet.eth2.net adds an interface.
test('labels: attached by the controller; a refused label shows in ls; removal frees', async () => {
  await runLabelled(c('lab'), [
    'fleetnet.host=h1',
    'fleetnet.net=blue',
    'fleetnet.ip=10.71.0.30/24',
    'fleetnet.eth2.net=blue',
  ]);
  const mine = async () => (await ls()).filter((r) => r.container === c('lab'));
  const upRows = async () => (await mine()).filter((r) => r.state === 'up');
  await eventually('both label attachments up', async () => (await upRows()).length === 2);
  const rows = await mine();
  const e1 = rows.find((r) => r.ifname === 'eth1')!;
  const e2 = rows.find((r) => r.ifname === 'eth2')!;
  assert.deepEqual(e1.addresses, ['10.71.0.30/24']);
  assert.match(e2.addresses[0] ?? '', /^10\.71\.0\.\d+\/24$/);
  assert.deepEqual(await addrsIn(c('lab'), 'eth1'), ['10.71.0.30/24']);
  assert.deepEqual(await addrsIn(c('lab'), 'eth2'), e2.addresses);

  // Refused: an unknown network and a malformed address; nothing allocated, the container in ls with the error.
  await runLabelled(c('bad'), [
    'fleetnet.host=h1',
    'fleetnet.net=nosuch',
    'fleetnet.eth2.net=blue',
    'fleetnet.eth2.ip=10.71.0.999/24',
    'fleetnet.eth3.ip=10.71.0.50/24',
  ]);
  const refused = async () => (await ls()).filter((r) => r.container === c('bad') && r.state === 'failed');
  await eventually('refusals in ls', async () => (await refused()).length === 3);
  const bad = (await ls()).filter((r) => r.container === c('bad'));
  assert.match(bad.find((r) => r.ifname === 'eth1')!.error, /no network named nosuch/);
  assert.match(bad.find((r) => r.ifname === 'eth2')!.error, /10\.71\.0\.999/);
  assert.match(bad.find((r) => r.ifname === 'labels')!.error, /fleetnet\.eth3\.ip without fleetnet\.eth3\.net/);
  assert.ok(
    bad.every((r) => r.addresses.length === 0 && r.mac === ''),
    JSON.stringify(bad),
  );
  assert.deepEqual(await addrsIn(c('bad'), 'eth1'), [], 'nothing half-made');

  // Restart: the agent re-applies the same interfaces; removal frees the asked address for another container.
  await sh.run('docker', ['restart', '-t', '0', c('lab')]);
  await eventually('eth1 back after restart', async () => (await addrsIn(c('lab'), 'eth1')).join() === '10.71.0.30/24');
  await sh.run('docker', ['rm', '-f', c('lab'), c('bad')]);
  const gone = [c('lab'), c('bad')];
  await eventually('gone from ls', async () => !(await ls()).some((r) => gone.includes(r.container)));
  await startContainer(c('next'), fleet.prefix);
  const next = await fleet.cli('attach', '--host', 'h1', c('next'), '10.71.0.30/24');
  assert.equal(next.code, 0, next.stderr);
});

// Its interfaces stay, attaches for it wait (exit 3), and it converges when it is back.
test('partition: an agent the controller cannot reach shows unreachable', async () => {
  const h1 = fleet.hosts[0]!;
  await startContainer(c('p'), fleet.prefix);
  await startContainer(c('q'), fleet.prefix);
  const p = await fleet.cli('attach', '--host', 'h1', c('p'), '10.71.0.40/24');
  assert.equal(p.code, 0, p.stderr);
  await h1.stopAgent();
  await eventually('host unreachable', async () => {
    const hosts = JSON.parse((await fleet.cli('hosts', '--json')).stdout) as { name: string; state: string }[];
    return hosts.find((h) => h.name === 'h1')?.state === 'unreachable';
  });
  const pState = async () => (await ls()).find((r) => r.container === c('p'))?.state;
  await eventually('attachment unreachable', async () => (await pState()) === 'unreachable');
  assert.deepEqual(await addrsIn(c('p'), 'eth1'), ['10.71.0.40/24'], 'the data plane is left as it is');
  const q = await fleet.cli('attach', '--host', 'h1', '--timeout', '2', c('q'), '10.71.0.41/24');
  assert.equal(q.code, 3, q.stdout + q.stderr);
  await h1.startAgent();
  await eventually('converged', async () => {
    const rows = (await ls()).filter((r) => r.container === c('p') || r.container === c('q'));
    return rows.length === 2 && rows.every((r) => r.state === 'up');
  });
  assert.deepEqual(await addrsIn(c('q'), 'eth1'), ['10.71.0.41/24']);
  assert.deepEqual(await addrsIn(c('p'), 'eth1'), ['10.71.0.40/24']);
});

// The reboot: agent stopped, every link on the host deleted, containers restarted, agent started.
test('a simulated reboot: every attachment back', async () => {
  const h1 = fleet.hosts[0]!;
  const names = ['r1', 'r2', 'r3'].map(c);
  for (const [i, n] of names.entries()) {
    await startContainer(n, fleet.prefix);
    const a = await fleet.cli('attach', '--host', 'h1', n, `10.71.0.${60 + i}/24`);
    assert.equal(a.code, 0, a.stderr);
  }
  const ours = async () => (await ls()).filter((r) => names.includes(r.container));
  const snapshot = async () =>
    (await ours())
      .map(({ container, mac, addresses }) => ({ container, mac, addresses }))
      .sort((x, y) => x.container.localeCompare(y.container));
  const before = await snapshot();
  const macs = async () => Promise.all(names.map(async (n) => [n, await eth1(n)]));
  const macsBefore = await macs();

  await h1.stopAgent();
  // What a reboot takes: every link on the host but loopback and the underlay (host-side veths, the
  // network's bridge), and every container's namespace (they start again).
  const links = (await sh.run('ip', ['-n', h1.ns, '-o', 'link', 'show'])).stdout
    .split('\n')
    .map((l) => /^\d+: ([^:@]+)/.exec(l)?.[1])
    .filter((n): n is string => !!n && n !== 'lo' && n !== 'u0');
  assert.ok(links.length >= 4, links.join(' '));
  for (const l of links) await sh.run('ip', ['-n', h1.ns, 'link', 'del', l], { allowFail: true });
  for (const n of names) await sh.run('docker', ['restart', '-t', '0', n]);
  assert.deepEqual(
    await Promise.all(names.map(eth1)),
    names.map(() => undefined),
  );
  await h1.startAgent();

  const same = ([n, m]: (string | undefined)[], i: number) => n === macsBefore[i]![0] && m === macsBefore[i]![1];
  await eventually('every interface back', async () => (await macs()).every(same));
  await eventually('up in the controller', async () => (await ours()).every((r) => r.state === 'up'));
  assert.deepEqual(await snapshot(), before);
  const linksNow = (await sh.run('ip', ['-n', h1.ns, '-o', 'link', 'show'])).stdout.split('\n');
  const veths = linksNow.filter((l) => /: fn[0-9a-f]+@/.test(l));
  assert.equal(veths.length, (await ls()).filter((r) => r.state === 'up').length, veths.join('\n'));
});

// kill -9 in a burst: 30 attaches through the controller, the agent killed while it makes them, then
// started again: every attachment up exactly once, and check finds no leak, orphan or duplicate.
test('the agent killed -9 during 30 attaches through the controller: all made once, check clean', async () => {
  const h1 = fleet.hosts[0]!;
  const names = Array.from({ length: 30 }, (_, i) => c(`b${i}`));
  for (const n of names) await startContainer(n, fleet.prefix);
  const veths = async () =>
    (await sh.run('ip', ['-n', h1.ns, '-o', 'link', 'show'])).stdout.split('\n').filter((l) => /: fn[0-9a-f]+@/.test(l))
      .length;
  const base = await veths();
  const burst = names.map((n) => fleet.cli('attach', '--host', 'h1', '--net', 'blue', n));
  await eventually('the agent making the burst', async () => (await veths()) >= base + 3);
  await h1.killAgent();
  const codes = (await Promise.all(burst)).map((r) => r.code);
  const madeOrPending = codes.every((x) => x === 0 || x === 3);
  assert.ok(madeOrPending, `attach exits 0 (made) or 3 (pending), never 1: ${codes.join(' ')}`);
  await h1.startAgent();
  const ours = async () => (await ls()).filter((r) => names.includes(r.container));
  await eventually(
    'all 30 up',
    async () => {
      const rows = await ours();
      return rows.length === 30 && rows.every((r) => r.state === 'up');
    },
    { tries: 600 },
  );
  const rows = await ours();
  assert.equal(new Set(rows.map((r) => r.addresses[0])).size, 30, 'thirty addresses, none twice');
  assert.equal(new Set(rows.map((r) => r.mac)).size, 30, 'thirty MACs, none twice');
  for (const n of names.slice(0, 5)) assert.equal(await eth1(n), rows.find((r) => r.container === n)!.mac);
  assert.equal(await veths(), base + 30, 'one host-side veth per attachment');
  const chk = await fleet.cli('check', '--host', 'h1', '--json');
  const j = JSON.parse(chk.stdout) as { leaks: number; orphans: number; duplicates: number; findings: unknown[] };
  assert.deepEqual([j.leaks, j.orphans, j.duplicates], [0, 0, 0], chk.stdout);
});
