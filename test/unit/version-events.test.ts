// fleetnet version (client, controller, each agent) and fleetnet events (the controller's
// WatchEvents stream): started before an attach, it prints the attach; then the detach, a host
// going down and coming back; tunnel events from the mesh status poll.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { silentLogger } from '../../common/logger.js';
import { VERSION } from '../../common/version.js';
import { FleetEvents, type FleetEvent } from '../../controller/events/fleet-events.js';
import { TunnelWatch, type TunnelReport } from '../../controller/events/tunnel-watch.js';
import { controllerWithCli } from '../helpers/controller-cli.js';

test('fleetnet version: the client, the controller and each agent (asked now); -o json', async (t) => {
  const { cli, fleet } = await controllerWithCli(t);
  assert.equal((await cli('host', 'add', 'h1', '--addr', '10.99.0.11')).code, 0);
  for (let i = 0; i < 100; i++) {
    if ((await cli('hosts', '--json')).out.includes('"up"')) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const v = await cli('version', '-o', 'json');
  assert.equal(v.code, 0, v.err);
  const rows = JSON.parse(v.out) as { component: string; name: string; version: string; state: string }[];
  assert.deepEqual(
    rows.map((r) => [r.component, r.name, r.version]),
    [
      ['client', 'fleetnet', VERSION],
      ['controller', 'controller', VERSION],
      ['agent', 'h1', 'fake'],
    ],
  );
  const table = await cli('version');
  assert.match(table.out, /^COMPONENT\s+NAME\s+VERSION\s+STATE\s+ADDRESS/);
  assert.match(table.out, /agent\s+h1\s+fake\s+up\s+10\.99\.0\.11:7441/);
  // an agent that stops answering: its last version, its error, exit 1
  fleet.agents.get('10.99.0.11:7441')!.down = true;
  const down = await cli('version', '-o', 'json');
  assert.equal(down.code, 1);
  const agentRow = (JSON.parse(down.out) as { component: string; version: string; state: string }[]).find(
    (r) => r.component === 'agent',
  )!;
  assert.equal(agentRow.version, 'fake');
  assert.match(agentRow.state, /^unreachable: .*does not answer/);
  const none = await cli('--controller', '127.0.0.1:1', 'version', '--json');
  assert.equal(none.code, 1);
  assert.match(JSON.parse(none.out)[1].state, /^error: no controller answers/);
});

test('fleetnet events: attach, detach, host down and up, as lines and JSON', async (t) => {
  const { cli, sock, dir, fleet } = await controllerWithCli(t);
  assert.equal((await cli('host', 'add', 'h1', '--addr', '10.99.0.11')).code, 0);
  assert.equal((await cli('net', 'create', 'blue', '--subnet', '10.1.1.0/24')).code, 0);
  const env = { ...process.env, HOME: dir, FLEETNET_CONTROLLER: '' };
  const watch = (...args: string[]) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', '--controller', sock, 'events', ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((r) => p.on('exit', (c) => r(c)));
    t.after(() => (p.exitCode === null ? p.kill() : undefined));
    const watching = (async () => {
      while (!/watching fleet events/.test(err) && p.exitCode === null) await new Promise((r) => setTimeout(r, 20));
      assert.match(err, /watching fleet events/);
    })();
    return { watching, exited, out: () => out, err: () => err };
  };
  const lines = watch('--count', '2');
  const json = watch('--json', '--count', '4');
  await lines.watching;
  await json.watching;
  assert.equal((await cli('attach', '--host', 'h1', '--net', 'blue', 'web1')).code, 0);
  assert.equal((await cli('detach', '--host', 'h1', 'web1')).code, 0);
  assert.equal(await lines.exited, 0, lines.err());
  const [a, d] = lines.out().trim().split('\n');
  assert.match(a!, /^\d{4}-\d\d-\d\dT[\d:.]+Z attach\s+h1 net=blue container=web1 ifname=eth1 id=\S+$/);
  assert.match(d!, / detach\s+h1 net=blue container=web1 ifname=eth1 /);
  const agent = fleet.agents.get('10.99.0.11:7441')!;
  agent.down = true;
  // the periodic pass (every 200 ms here) finds it down
  for (let i = 0; i < 200 && !json.out().includes('host-down'); i++) await new Promise((r) => setTimeout(r, 25));
  agent.down = false;
  assert.equal(await json.exited, 0, json.err());
  const evs = json
    .out()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, string>);
  assert.deepEqual(
    evs.map((e) => e.kind),
    ['attach', 'detach', 'host-down', 'host-up'],
  );
  assert.equal(evs[0]!.container, 'web1');
  assert.equal(evs[0]!.network, 'blue');
  assert.match(evs[2]!.detail!, /does not answer/);
  const bad = await cli('events', '--kind', 'nonsense');
  assert.equal(bad.code, 2);
});

test('fleetnet events without --count: streams until its controller stops, then says the stream ended', async (t) => {
  const { cli, sock, dir, ctl } = await controllerWithCli(t);
  assert.equal((await cli('host', 'add', 'h1', '--addr', '10.99.0.11')).code, 0);
  assert.equal((await cli('net', 'create', 'blue', '--subnet', '10.1.1.0/24')).code, 0);
  const p = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', '--controller', sock, 'events'], {
    env: { ...process.env, HOME: dir, FLEETNET_CONTROLLER: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => (p.exitCode === null ? p.kill() : undefined));
  let [out, err] = ['', ''];
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => p.on('exit', (c) => r(c)));
  while (!/watching fleet events/.test(err) && p.exitCode === null) await new Promise((r) => setTimeout(r, 20));
  assert.match(err, /watching fleet events/, 'no --count is not an error');
  assert.equal((await cli('attach', '--host', 'h1', '--net', 'blue', 'web1')).code, 0);
  while (!/ attach /.test(out) && p.exitCode === null) await new Promise((r) => setTimeout(r, 20));
  await ctl.stop(); // the watch ends with the controller's own word, not a cancelled call after the grace period
  assert.equal(await exited, 1);
  assert.match(err, /the controller is shutting down: the event stream ended/);
  assert.match(err, /hint: what happens from now on was not seen here/);
});

test('tunnel events: a change between up and not up, only while someone watches', async () => {
  const events = new FleetEvents();
  let state = 'up';
  const status = async (): Promise<TunnelReport[]> => [
    { host: 'h1', error: '', reply: { tunnels: [{ network: 'blue', peer: 'h2', state, detail: `bfd ${state}` }] } },
  ];
  const w = new TunnelWatch({ events, status, periodMs: 60_000, log: silentLogger() });
  const seen: FleetEvent[] = [];
  await w.poll(); // nobody watches: nothing asked
  const off = events.subscribe((e) => seen.push(e));
  await w.poll(); // the first look sets the baseline
  state = 'down';
  await w.poll();
  await w.poll(); // no change: no event
  state = 'up';
  await w.poll();
  off();
  assert.deepEqual(
    seen.map((e) => [e.kind, e.host, e.network, e.peer, e.detail]),
    [
      ['tunnel-down', 'h1', 'blue', 'h2', 'bfd down'],
      ['tunnel-up', 'h1', 'blue', 'h2', 'bfd up'],
    ],
  );
});
