// Ctrl-C while `fleetnet attach --host` waits on the controller (the host's agent does not answer): only the
// wait ends; the CLI says the attach stays recorded and how to follow and undo it, and exits 130.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { controllerWithCli } from '../helpers/controller-cli.js';

test('Ctrl-C on a pending fleet attach says what becomes of it (exit 130)', async (t) => {
  const { cli, sock, dir, fleet } = await controllerWithCli(t);
  assert.equal((await cli('host', 'add', 'h1', '--addr', '10.99.0.11')).code, 0);
  assert.equal((await cli('net', 'create', 'blue', '--subnet', '10.1.1.0/24')).code, 0);
  fleet.agents.get('10.99.0.11:7441')!.down = true;
  const p = spawn(
    process.execPath,
    ['--import', 'tsx', 'cli/main.ts', '--controller', sock, 'attach', '--host', 'h1', '--net', 'blue', 'web1'],
    { env: { ...process.env, HOME: dir, FLEETNET_CONTROLLER: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.after(() => (p.exitCode === null ? p.kill('SIGKILL') : undefined));
  let err = '';
  p.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((r) => p.on('exit', (c) => r(c)));
  // the attach is recorded and waits on the agent: then the interrupt
  for (let i = 0; i < 400; i++) {
    const ls = await cli('ls', '-o', 'json');
    if (ls.out.includes('"pending"') || ls.out.includes('"unreachable"')) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  p.kill('SIGINT');
  assert.equal(await exited, 130);
  assert.match(err, /interrupted: only the wait ended\. The attach stays recorded on the controller/);
  assert.match(err, /follow it with: fleetnet ls --host h1/);
  assert.match(err, /undo it with: fleetnet detach --host h1 web1/);
  const ls = JSON.parse((await cli('ls', '-o', 'json')).out) as { container: string }[];
  assert.deepEqual(
    ls.map((a) => a.container),
    ['web1'],
    'the attachment stays recorded',
  );
});
