// Through the controller (issue 11): a restarted container gets its interface back (same MAC and
// address) and the controller shows it up; a removed container's address and MAC are freed so
// another container can take the address; --keep-address keeps them (stopped).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ExecRunner } from '../../common/runner.js';
import { removeContainers, startContainer } from '../helpers/docker.js';
import { startTestFleet, type TestFleet } from '../helpers/controller-fleet.js';

const sh = new ExecRunner();
let fleet: TestFleet;
const c = (n: string) => `${fleet.prefix}-${n}`;

interface Row { container: string; addresses: string[]; state: string; mac: string }

async function ls(): Promise<Row[]> {
  const r = await fleet.cli('ls', '--json');
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Row[];
}

async function eventually(what: string, cond: () => Promise<boolean>, tries = 300): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await cond().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${what}: never happened`);
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
  await eventually('up in the controller', async () => (await ls()).find((r) => r.container === c('a'))?.state === 'up');
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
