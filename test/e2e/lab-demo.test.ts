// The README's demo, as a user runs it: a lab comes up, two containers are attached through a lab
// agent and ping each other, the lab goes down; also when it is interrupted with Ctrl-C halfway.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { ExecRunner } from '../../common/runner.js';
import { labDown } from '../../lab/down.js';
import { ensureBuilt } from '../helpers/build.js';
import { labScope } from '../helpers/lab-fixture.js';
import { dockerUnavailable, newRunId, TestContainers } from '../helpers/docker.js';
import { assertSnapshotsEqual, takeSnapshot } from '../helpers/snapshot.js';

const runner = new ExecRunner();
let bin = '';
const made: string[] = [];

before(async () => {
  // No Docker, no demo: say why and start nothing (CI always has a daemon, so this fails rather than skips).
  const why = await dockerUnavailable(runner);
  assert.equal(why, undefined, `the demo needs Docker: ${why}`);
  bin = await ensureBuilt(runner);
  // Docker makes its runtime folders under /run with the first container it ever runs, for good:
  // run one before the first snapshot, so that only the demo's own traces are compared.
  const warm = new TestContainers(newRunId('w'), runner);
  await warm.ensureImage();
  await warm.start('warmup', { cmd: ['true'] });
  await warm.cleanup();
});
after(async () => {
  for (const name of made) await labDown({ name });
});

test('lab demo: containers attached on a lab host ping each other, and the lab goes down', async () => {
  const name = newRunId('d');
  made.push(name);
  const before = await takeSnapshot(labScope(name));
  const r = await runner.run(process.execPath, [bin, 'lab', 'demo', '--name', name, '--hosts', '2'], {
    allowFail: true,
    timeoutMs: 180_000,
  });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /attached: \S+-web1 eth1 .* 10\.200\.0\.1\/24 on br-demo/);
  assert.match(r.stdout, /3 packets transmitted, 3 packets received/);
  assert.match(r.stdout, /The lab goes down/);
  assertSnapshotsEqual(before, await takeSnapshot(labScope(name)), [name]);
});

test('lab demo interrupted with Ctrl-C once its containers run: it still takes the lab down', async () => {
  const name = newRunId('d');
  made.push(name);
  const before = await takeSnapshot(labScope(name));
  const child = spawn(process.execPath, [bin, 'lab', 'demo', '--name', name, '--hosts', '2'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const deadline = Date.now() + 120_000;
  while (!out.includes('started container') && child.exitCode === null && Date.now() < deadline)
    await new Promise((res) => setTimeout(res, 10));
  assert.match(out, /started container/, 'the demo got as far as starting a container');
  child.kill('SIGINT');
  const code = await exited;
  assert.notEqual(code, 0, out);
  assert.match(out, /interrupted/);
  assert.match(out, /The lab goes down/);
  assertSnapshotsEqual(before, await takeSnapshot(labScope(name)), [name]);
});
