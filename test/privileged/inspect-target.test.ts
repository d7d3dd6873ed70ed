// `fleetnet inspect` finds its container as detach does (the agent's Inspect RPC, agent/attach/find-records.ts):
// every form attach/detach/route take (bare name, netns:NAME, pid:N, /path), and a name that fits more than one
// thing is refused (exit 2) by both, instead of inspect picking one.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { cli, startAgentIn, type AgentProc } from '../helpers/agent-process.js';
import { addNs, delNs, sh, uniquePrefix } from '../helpers/netns.js';

const P = uniquePrefix('in');
const HOST = `${P}-h`;
const CONT = `${P}-c`;
/** An LXC container's config under this name makes the bare name fit two things (lxc-info is not asked). */
const LXC_DIR = `/var/lib/lxc/${CONT}`;
let agent: AgentProc;
let dir: string;
let sleeper: ChildProcess;

before(async () => {
  await addNs(HOST);
  await addNs(CONT);
  dir = mkdtempSync(join(tmpdir(), 'fleetnet-agent-'));
  agent = await startAgentIn(HOST, dir);
  sleeper = sh.start('ip', ['netns', 'exec', CONT, 'sleep', '300'], { stdio: 'ignore' });
  const r = await cli(agent.socket, 'attach', 'br-in', `netns:${CONT}`, '10.54.0.5/24');
  assert.equal(r.code, 0, r.stderr);
});

after(async () => {
  rmSync(LXC_DIR, { recursive: true, force: true });
  if (agent) await cli(agent.socket, 'detach', `netns:${CONT}`);
  sleeper?.kill('SIGKILL');
  await agent?.stop();
  await delNs(HOST);
  await delNs(CONT);
  rmSync(dir, { recursive: true, force: true });
});

const inspect = async (ref: string) => {
  const r = await cli(agent.socket, 'inspect', ref);
  assert.equal(r.code, 0, `inspect ${ref}: exit ${r.code}\n${r.stderr}`);
  const [e] = JSON.parse(r.stdout) as {
    container: { name: string };
    interfaces: { ifname: string; addresses: string[] }[];
  }[];
  if (!e) throw new Error(`inspect ${ref}: an empty array`);
  return [e.container.name, e.interfaces.map((i) => `${i.ifname} ${i.addresses.join(' ')}`)];
};

it('finds the container by every form attach and detach take', async () => {
  const want = [CONT, ['eth1 10.54.0.5/24']];
  assert.deepEqual(await inspect(CONT), want);
  assert.deepEqual(await inspect(`netns:${CONT}`), want);
  assert.deepEqual(await inspect(`/run/netns/${CONT}`), want);
  assert.ok(sleeper.pid);
  assert.deepEqual(await inspect(`pid:${sleeper.pid}`), want);
  assert.deepEqual(await inspect(String(sleeper.pid)), want);
});

it('refuses what detach refuses: a container with nothing, bad input, a name that fits two things', async () => {
  const nothing = await cli(agent.socket, 'inspect', `netns:${P}-nope`);
  assert.equal(nothing.code, 2, nothing.stderr);
  assert.match(nothing.stderr, /no fleetnet interface belongs to/);
  const bad = await cli(agent.socket, 'inspect', 'pid:abc');
  assert.equal(bad.code, 2, bad.stderr);
  mkdirSync(LXC_DIR, { recursive: true });
  writeFileSync(join(LXC_DIR, 'config'), '# a test stand-in: only its presence matters\n');
  try {
    for (const cmd of ['inspect', 'detach']) {
      const r = await cli(agent.socket, cmd, CONT);
      assert.equal(r.code, 2, `${cmd}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`'${CONT}' names more than one thing: netns:${CONT}, lxc:${CONT}`), cmd);
    }
    assert.deepEqual(await inspect(`netns:${CONT}`), [CONT, ['eth1 10.54.0.5/24']], 'the explicit form still works');
  } finally {
    rmSync(LXC_DIR, { recursive: true, force: true });
  }
});
