// The controller with real agents in host namespaces and Docker containers as targets:
// attach by static address and ping, refusal naming the holder, MACs from the underlay, ls on
// the right host, a controller restart, an agent down (exit 3, then done), attach+detach while down.
import { LsOutput } from '../../common/ls-schema.js';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { ExecRunner } from '../../common/runner.js';
import { removeContainers, startContainer } from '../helpers/docker.js';
import { startTestFleet, type TestFleet } from '../helpers/controller-fleet.js';
import { eventually } from '../helpers/poll.js';

const sh = new ExecRunner();
let fleet: TestFleet;
let label: string;
const c = (n: string) => `${fleet.prefix}-${n}`;

interface Row {
  container: string;
  host: string;
  network: string;
  mac: string;
  addresses: string[];
  state: string;
  ifname: string;
}

async function ls(...args: string[]): Promise<Row[]> {
  const r = await fleet.cli('ls', '--json', ...args);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Row[];
}

async function containerHas(name: string, ifname: string): Promise<boolean> {
  return (await sh.run('docker', ['exec', name, 'ip', 'link', 'show', ifname], { allowFail: true })).code === 0;
}

before(async () => {
  fleet = await startTestFleet({ hosts: 3, tag: 'f' });
  label = fleet.prefix;
  await fleet.startController();
  for (const h of fleet.hosts) assert.equal((await fleet.cli('host', 'add', h.name, '--addr', h.agentAddr)).code, 0);
  const n = await fleet.cli('net', 'create', 'blue', '--subnet', '10.1.1.0/24', '--gateway', '10.1.1.1');
  assert.equal(n.code, 0, n.stderr);
  for (const name of ['web1', 'web2', 'web3', 'web4', 'web5']) await startContainer(c(name), label);
});

after(async () => {
  if (label) await removeContainers(label);
  await fleet?.down();
});

test("attach on h2 by static address; a second container on h2 pings it; the MAC carries h2's underlay", async () => {
  const a = await fleet.cli('attach', '--host', 'h2', c('web1'), '10.1.1.50/24');
  assert.equal(a.code, 0, a.stderr);
  assert.match(a.stdout, /attached: .*10\.1\.1\.50\/24 on h2/);
  const b = await fleet.cli('attach', '--host', 'h2', '--net', 'blue', c('web2'));
  assert.equal(b.code, 0, b.stderr);
  const rows = await ls('--host', 'h2');
  const web2 = rows.find((r) => r.container === c('web2'))!;
  assert.equal(web2.state, 'up');
  const ping = await sh.run('docker', ['exec', c('web2'), 'ping', '-c', '1', '-W', '2', '10.1.1.50'], {
    allowFail: true,
  });
  assert.equal(ping.code, 0, ping.stdout + ping.stderr);
  const h2 = fleet.hosts[1]!.underlayIp.split('.')
    .slice(1)
    .map((o) => Number(o).toString(16).padStart(2, '0'))
    .join(':');
  for (const r of rows) assert.equal(r.mac.slice(3, 11), h2, `${r.mac} carries ${h2}`);
  const live = await sh.run('docker', ['exec', c('web1'), 'cat', '/sys/class/net/eth1/address']);
  assert.equal(live.stdout.trim(), rows.find((r) => r.container === c('web1'))!.mac);
});

test('the controller is named fleetnet-controller in ps and top (15 bytes: fleetnet-contro), with its args', () => {
  const pid = fleet.controllerPid()!;
  assert.equal(readFileSync(`/proc/${pid}/comm`, 'utf8').trim(), 'fleetnet-contro');
  const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+/g, ' ').trim();
  assert.match(cmdline, /^fleetnet-controller controller run --listen \S+ --db /);
});

test('the same address for another container is refused, naming the holder and its host', async () => {
  const r = await fleet.cli('attach', '--host', 'h3', c('web3'), '10.1.1.50/24');
  assert.equal(r.code, 1);
  assert.match(r.stderr, new RegExp(`taken by ${c('web1')} \\(eth1\\) on host h2`));
  assert.equal(await containerHas(c('web3'), 'eth1'), false);
});

test('ls shows every attachment on the right host; inspect prints the inventory schema', async () => {
  const r = await fleet.cli('attach', '--host', 'h3', '--net', 'blue', c('web3'));
  assert.equal(r.code, 0, r.stderr);
  const rows = await ls();
  const where = Object.fromEntries(rows.map((x) => [x.container, x.host]));
  assert.equal(where[c('web1')], 'h2');
  assert.equal(where[c('web2')], 'h2');
  assert.equal(where[c('web3')], 'h3');
  assert.deepEqual((await ls('--host', 'h1')).length, 0);
  const ins = await fleet.cli('inspect', c('web1'));
  assert.equal(ins.code, 0, ins.stderr);
  const inv = JSON.parse(ins.stdout) as {
    container: { name: string };
    host: string;
    interfaces: { compat: { IPAddress: string; IPPrefixLen: number; Bridge: string } }[];
  }[];
  assert.equal(inv.length, 1, 'an array, also of one');
  assert.equal(inv[0]!.container.name, c('web1'));
  assert.equal(inv[0]!.host, 'h2');
  assert.deepEqual(inv[0]!.interfaces[0]!.compat.IPAddress, '10.1.1.50');
  assert.deepEqual(inv[0]!.interfaces[0]!.compat.IPPrefixLen, 24);
  assert.deepEqual(inv[0]!.interfaces[0]!.compat.Bridge, 'br-blue');
});

test('a controller restart keeps everything', async () => {
  const before_ = await ls();
  await fleet.stopController('SIGKILL');
  await fleet.startController();
  const after_ = await ls();
  const strip = (rows: Row[]) =>
    rows.map(({ container, host, mac, addresses, state }) => ({ container, host, mac, addresses, state }));
  assert.deepEqual(strip(after_), strip(before_));
  const again = await fleet.cli('attach', '--host', 'h2', c('web1'), '10.1.1.50/24');
  assert.match(again.stdout, /already attached/);
});

test('agent down: attach exits 3 (pending); the agent comes back and the attach completes', async () => {
  const h1 = fleet.hosts[0]!;
  await h1.stopAgent();
  const r = await fleet.cli('attach', '--host', 'h1', '--timeout', '1', c('web4'), '10.1.1.60/24');
  assert.equal(r.code, 3, r.stdout + r.stderr);
  assert.match(r.stderr, /still pending on h1/);
  await h1.startAgent();
  await eventually('web4 attached after the agent returned', async () =>
    (await ls('--host', 'h1')).some((x) => x.container === c('web4') && x.state === 'up'),
  );
  assert.equal(await containerHas(c('web4'), 'eth1'), true);
});

test('agent down: attach then detach ordered; the agent comes back and nothing is created', async () => {
  const h1 = fleet.hosts[0]!;
  await h1.stopAgent();
  assert.equal((await fleet.cli('attach', '--host', 'h1', '--timeout', '0', c('web5'), '10.1.1.61/24')).code, 3);
  assert.equal((await fleet.cli('detach', '--host', 'h1', '--timeout', '0', c('web5'))).code, 3);
  await h1.startAgent();
  await eventually('web5 forgotten', async () => !(await ls('--host', 'h1')).some((x) => x.container === c('web5')));
  assert.equal(await containerHas(c('web5'), 'eth1'), false);
  // The agent never saw it: nothing in its records either.
  const agentLs = await sh.run('node', ['bin/fleetnet.mjs', '--socket', h1.socket, 'ls', '--json']);
  assert.ok(!agentLs.stdout.includes(c('web5')), agentLs.stdout);
  // ONE ls schema whichever answers: this agent, and the controller (common/ls-schema.ts)
  LsOutput.parse(JSON.parse(agentLs.stdout));
  LsOutput.parse(JSON.parse((await fleet.cli('ls', '--json')).stdout));
  // And the address is free for someone else.
  const again = await fleet.cli('attach', '--host', 'h1', c('web5'), '10.1.1.61/24');
  assert.equal(again.code, 0, again.stderr);
});

test('detach through the controller removes the interface and frees the address', async () => {
  const d = await fleet.cli('detach', '--host', 'h2', c('web1'));
  assert.equal(d.code, 0, d.stderr);
  assert.equal(await containerHas(c('web1'), 'eth1'), false);
  const r = await fleet.cli('attach', '--host', 'h2', '-i', 'eth2', c('web2'), '10.1.1.50/24');
  assert.equal(r.code, 0, r.stderr);
  const addr = await sh.run('docker', ['exec', c('web2'), 'ip', '-o', 'addr', 'show', 'eth2']);
  assert.match(addr.stdout, /inet 10\.1\.1\.50\/24/);
});
