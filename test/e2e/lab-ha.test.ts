// Several controllers in a lab (issue 13): `fleetnet lab demo-ha` as a user runs it (3 etcd members
// and 3 controllers in their own namespaces; the first controller killed -9; an attach through the
// same controller list still succeeds and its container reaches the first one; the lab goes down
// and leaves nothing), and bad counts refused with exit 2 before anything is made.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { labCliRuns, labScope } from '../helpers/lab-fixture.js';
import { assertSnapshotsEqual, takeSnapshot } from '../helpers/snapshot.js';

const lab = labCliRuns();

test('lab demo-ha: an attach through a surviving controller after one is killed; the lab goes down', async () => {
  const name = lab.name('ha');
  const before = await takeSnapshot(labScope(name));
  const r = await lab.runner.run(process.execPath, [lab.bin(), 'lab', 'demo-ha', '--name', name], {
    allowFail: true,
    timeoutMs: 240_000,
  });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /etcd: 3 member\(s\)/);
  assert.match(r.stdout, /Controller c1 \(10\.99\.0\.2:7440, pid \d+\) killed -9/);
  const second = `attach --host h1 --net ha netns:${name}-k2\\n\\s+(attached|pending): ${name}-k2 eth1`;
  assert.match(r.stdout, new RegExp(second));
  assert.match(r.stdout, /3 packets transmitted, 3 received/);
  assert.match(r.stdout, /ok: with c1 dead, the attach went through a surviving controller/);
  assertSnapshotsEqual(before, await takeSnapshot(labScope(name)), [name]);
});

test('lab up with bad controller or etcd counts: exit 2, nothing made', async () => {
  const name = lab.name('hb');
  const before = await takeSnapshot(labScope(name));
  for (const [args, why] of [
    [['--controllers', '2'], /2 controllers need a shared store/],
    [['--controllers', '1', '--etcd', '2'], /--etcd 2 is not 0, 1, 3 or 5/],
    [['--etcd', '3'], /--etcd without controllers/],
    [['--controllers', '4', '--etcd', '3'], /--controllers 4 is not a whole number from 0 to 3/],
  ] as const) {
    const r = await lab.runner.run(
      process.execPath,
      [lab.bin(), 'lab', 'up', '--name', name, '--hosts', '1', ...args],
      {
        allowFail: true,
      },
    );
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, why);
  }
  assertSnapshotsEqual(before, await takeSnapshot(labScope(name)), [name]);
});
