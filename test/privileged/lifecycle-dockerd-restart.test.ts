// dockerd restarted (issue 11): the agent's event stream is lost with it, and a container removed
// right after dockerd is back — before or after the agent's stream reconnects — is still cleaned
// up: record released, host-side veth gone. A private dockerd inside a test namespace (the bench's,
// bench/lib/docker.ts) stands in for the host's, so the machine's own dockerd is never touched.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { silentLogger } from '../../common/logger.js';
import { docker, ensureImage, IMAGE, startSecondDockerd, type Docker } from '../../bench/lib/docker.js';
import { makeBenchEnv, stopProcess, type BenchEnv } from '../../bench/lib/env.js';
import { cli, startAgentIn, type AgentProc } from '../helpers/agent-process.js';
import { dockerUnavailable } from '../helpers/docker.js';
import { sh } from '../helpers/netns.js';
import { eventually } from '../helpers/poll.js';

const dockerWhy = await dockerUnavailable();
let env: BenchEnv;
let d: Docker;
let agent: AgentProc | undefined;

interface Row {
  container: string;
  hostIfname: string;
  state: string;
}

const rows = async (): Promise<Row[]> => JSON.parse((await cli(agent!.socket, 'ls', '--json')).stdout) as Row[];

before(async () => {
  if (dockerWhy) return;
  env = await makeBenchEnv(silentLogger());
  d = await startSecondDockerd(env);
  await ensureImage(env, d);
  const sock = join(env.tmp, 'dockerd', 'docker.sock');
  agent = await startAgentIn(env.netns, undefined, ['--docker-socket', sock, '--lifecycle-pass-ms', '500']);
});

after(async () => {
  await agent?.stop();
  agent?.cleanup();
  await env?.cleanup();
});

const skip = dockerWhy ? `Docker: ${dockerWhy}` : false;

test('dockerd restarted, a container removed right after: still released', { skip }, async () => {
  const name = `${env.netns}-c`;
  const run = ['run', '-d', '--network', 'none', '--label', d.label, '--name', name, IMAGE, '/bin/sleep', '86400'];
  await docker(env, d, run);
  const a = await cli(agent!.socket, 'attach', 'br-dr', name, '10.64.0.2/24');
  assert.equal(a.code, 0, a.stderr);
  const peer = (await rows()).find((r) => r.container === name)!.hostIfname;
  assert.ok(peer, 'a host-side veth');

  // dockerd goes (its containers stop with it, the agent's event stream ends) and comes back.
  const pidFile = join(env.tmp, 'dockerd', 'dockerd.pid');
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  await stopProcess(pid, 20_000);
  assert.equal(existsSync(`/proc/${pid}`), false, 'dockerd stopped');
  d = await startSecondDockerd(env);
  await docker(env, d, ['rm', '-f', name]);

  await eventually('record released', async () => !(await rows()).some((r) => r.container === name));
  const link = await sh.run('ip', ['-n', env.netns, 'link', 'show', peer], { allowFail: true });
  assert.notEqual(link.code, 0, `${peer} is gone`);
});
