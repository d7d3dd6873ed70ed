// `lab up` killed with -9 halfway, at several points, then `lab down`: the machine is as before.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { labDown } from '../../lab/down.js';
import { labCliRuns, labScope } from '../helpers/lab-fixture.js';
import { assertSnapshotsEqual, equalSnapshots, takeSnapshot } from '../helpers/snapshot.js';

const lab = labCliRuns();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Kill points, in the order `up` reaches them: the first file, netns, OVS daemons, agents. */
const points: { what: string; reached: (name: string) => boolean }[] = [
  { what: 'the state file is written', reached: (n) => existsSync(`/run/fleetnet-lab/${n}/lab.json`) },
  { what: 'the switch namespace exists', reached: (n) => existsSync(`/run/netns/${n}-sw`) },
  { what: 'the 3rd host namespace exists', reached: (n) => existsSync(`/run/netns/${n}-h3`) },
  {
    what: 'the 2nd ovsdb-server wrote its pid file',
    reached: (n) => existsSync(`/run/fleetnet-lab/${n}/h2/ovs/ovsdb-server.pid`),
  },
  {
    what: 'an ovs-vswitchd wrote its pid file',
    reached: (n) => existsSync(`/run/fleetnet-lab/${n}/h3/ovs/ovs-vswitchd.pid`),
  },
  { what: 'the 1st agent made its socket', reached: (n) => existsSync(`/run/fleetnet-lab/${n}/h1/agent.sock`) },
];

for (const p of points) {
  test(`up killed with -9 when ${p.what}, then down: snapshots equal`, async () => {
    const name = lab.name('k');
    const scope = labScope(name);
    const snapBefore = await takeSnapshot(scope);

    const child = spawn(process.execPath, [lab.bin(), 'lab', 'up', '--hosts', '3', '--name', name], {
      stdio: 'ignore',
    });
    const exited = new Promise<{ code: number | null; sig: NodeJS.Signals | null }>((r) =>
      child.once('exit', (code, sig) => r({ code, sig })),
    );
    let done = false;
    void exited.then(() => (done = true));
    const deadline = Date.now() + 60_000;
    while (!p.reached(name) && !done && Date.now() < deadline) await sleep(5);
    assert.ok(p.reached(name), `up never reached "${p.what}"`);
    assert.equal(done, false, `up finished before the kill point "${p.what}"`);
    child.kill('SIGKILL');
    assert.equal((await exited).sig, 'SIGKILL');

    // The snapshot sees what the killed up left (so that "equal" below means something).
    const midway = equalSnapshots(snapBefore, await takeSnapshot(scope), [name]);
    assert.match(midway.text, new RegExp(name), 'the killed up left something of the lab behind');

    await labDown({ name });
    assertSnapshotsEqual(snapBefore, await takeSnapshot(scope), [name]);
  });
}

test('up interrupted with Ctrl-C halfway takes down what it made by itself', async () => {
  const name = lab.name('k');
  const scope = labScope(name);
  const snapBefore = await takeSnapshot(scope);
  const child = spawn(process.execPath, [lab.bin(), 'lab', 'up', '--hosts', '3', '--name', name], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const deadline = Date.now() + 60_000;
  while (
    !existsSync(`/run/fleetnet-lab/${name}/h1/ovs/ovsdb-server.pid`) &&
    child.exitCode === null &&
    Date.now() < deadline
  )
    await sleep(5);
  child.kill('SIGINT');
  const code = await exited;
  assert.equal(code, 1, out);
  assert.match(out, /interrupted[\s\S]*taking the lab down again/);
  assertSnapshotsEqual(snapBefore, await takeSnapshot(scope), [name]); // no `lab down` was run
});
