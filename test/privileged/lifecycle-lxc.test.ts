// LXC containers follow the same lifecycle as Docker's (issue 11, items 1 and 2), with real LXC
// busybox containers started inside the agent's test namespace. The agents run with a one-hour full
// pass, so what happens within the polls' deadline after lxc-stop, lxc-start and lxc-destroy is the
// work of LXC's events (lxc-monitor, the LXC path's directory); a restart while the agent is down is
// the first pass's. Through a controller, lxc-destroy frees the address for another container.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test, type TestContext } from 'node:test';
import { cli, startAgentIn } from '../helpers/agent-process.js';
import { startTestFleet } from '../helpers/controller-fleet.js';
import { eventually } from '../helpers/poll.js';
import { LsOutput, type LsEntry } from '../../common/ls-schema.js';
import { lxcContainer, netns, scope, sh, tempDir, uniq, type LxcContainer } from './parity-env.js';

const lxcWhy =
  (await sh('lxc-create', ['--version'], true).catch(() => undefined))?.code === 0 ? '' : 'lxc is not installed';
const NO_PASS = ['--lifecycle-pass-ms', '3600000'];

/** A host namespace with an agent (one-hour pass) that can be stopped and started again on its state. */
async function lxcHost(tc: TestContext) {
  const t = scope(tc);
  const p = uniq();
  const ns = await netns(t, `${p}-host`);
  const dir = tempDir(t, p);
  let agent = await startAgentIn(ns, dir, NO_PASS);
  t.after(async () => {
    await agent.stop();
    // A failed run must not leave lxc-monitord in this namespace (no other namespace could reach it).
    await sh('ip', ['netns', 'exec', ns, 'lxc-monitor', '-Q'], true);
  });
  const ls = async (): Promise<LsEntry[]> => {
    const r = await cli(agent.socket, 'ls', '--json');
    assert.equal(r.code, 0, r.stderr);
    return LsOutput.parse(JSON.parse(r.stdout));
  };
  return {
    t,
    p,
    ns,
    ls,
    cli: (...args: string[]) => cli(agent.socket, ...args),
    /** The agent's own children (lxc-monitor while it follows LXC). */
    children: () => childrenOf(agent.proc.pid!),
    stopAgent: () => agent.stop(),
    async startAgent() {
      agent = await startAgentIn(ns, dir, NO_PASS);
    },
    hostLink: async (name: string) => (await sh('ip', ['-n', ns, 'link', 'show', name], true)).code === 0,
  };
}

function childrenOf(pid: number): string[] {
  return readdirSync(`/proc/${pid}/task`)
    .flatMap((tid) => readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/))
    .filter(Boolean)
    .map((c) => {
      try {
        return readFileSync(`/proc/${c}/comm`, 'utf8').trim();
      } catch {
        return '';
      }
    });
}

/** eth1 inside the container: MAC and addresses (undefined while it has none). */
async function eth1Of(c: LxcContainer, name: string): Promise<{ mac: string; addrs: string[] } | undefined> {
  const a = await c.lxc('lxc-attach', ['-n', name, '--', 'ip', '-o', 'addr', 'show', 'dev', 'eth1']);
  if (a.code !== 0) return undefined;
  const mac = (await c.lxc('lxc-attach', ['-n', name, '--', 'cat', '/sys/class/net/eth1/address'])).stdout.trim();
  const addrs = [...a.stdout.matchAll(/inet6? (\S+)/g)].map((m) => m[1]!).filter((x) => !x.startsWith('fe80'));
  return addrs.length ? { mac, addrs } : undefined;
}

test(
  'lxc-stop then lxc-start: same MAC, address and host-side name; ls shows stopped, then up',
  { skip: lxcWhy || false },
  async (tc) => {
    const h = await lxcHost(tc);
    const name = `${h.p}-r`;
    const c = await lxcContainer(h.t, name, h.ns);
    assert.ok(!h.children().includes('lxc-monitor'), 'no LXC record yet: no lxc-monitor');
    const a = await h.cli('attach', 'br0', `lxc:${name}`, '10.11.0.1/24');
    assert.equal(a.code, 0, a.stderr);
    const row = (await h.ls()).find((r) => r.container === name)!;
    const first = (await eth1Of(c, name))!;
    assert.deepEqual(first, { mac: row.mac, addrs: ['10.11.0.1/24'] });
    assert.ok(await h.hostLink(row.hostIfname));
    await eventually('lxc-monitor started with the first LXC record', async () => h.children().includes('lxc-monitor'));

    assert.equal((await c.lxc('lxc-stop', ['-k', '-n', name])).code, 0);
    await eventually(
      'stopped in ls',
      async () => (await h.ls()).find((r) => r.container === name)?.state === 'stopped',
    );
    assert.equal((await c.lxc('lxc-start', ['-n', name])).code, 0);
    await eventually('eth1 back', async () => (await eth1Of(c, name)) !== undefined);
    assert.deepEqual(await eth1Of(c, name), first);
    await eventually('up in ls', async () => (await h.ls()).find((r) => r.container === name)?.state === 'up');
    const again = (await h.ls()).filter((r) => r.container === name);
    assert.equal(again.length, 1);
    assert.equal(again[0]!.hostIfname, row.hostIfname);
    assert.equal(again[0]!.mac, row.mac);
    assert.ok(await h.hostLink(row.hostIfname), 'the same host-side name, in the namespace');
  },
);

test('lxc-destroy -f releases the host side and the record', { skip: lxcWhy || false }, async (tc) => {
  const h = await lxcHost(tc);
  const name = `${h.p}-d`;
  const c = await lxcContainer(h.t, name, h.ns);
  const a = await h.cli('attach', 'br0', `lxc:${name}`, '10.11.0.2/24');
  assert.equal(a.code, 0, a.stderr);
  const row = (await h.ls()).find((r) => r.container === name)!;
  assert.ok(await h.hostLink(row.hostIfname));
  await eventually('lxc-monitor started', async () => h.children().includes('lxc-monitor'));
  assert.equal((await c.lxc('lxc-destroy', ['-f', '-n', name])).code, 0);
  await eventually('the record released', async () => !(await h.ls()).some((r) => r.container === name));
  assert.ok(!(await h.hostLink(row.hostIfname)), 'host side gone');
});

test('a restart while the agent is down is repaired by its first pass', { skip: lxcWhy || false }, async (tc) => {
  const h = await lxcHost(tc);
  const name = `${h.p}-a`;
  const c = await lxcContainer(h.t, name, h.ns);
  const a = await h.cli('attach', 'br0', '-l', `${h.p}v`, `lxc:${name}`, '10.11.0.3/24@10.11.0.254');
  assert.equal(a.code, 0, a.stderr);
  const first = (await eth1Of(c, name))!;
  await h.stopAgent();
  assert.equal((await c.lxc('lxc-stop', ['-k', '-n', name])).code, 0);
  assert.equal((await c.lxc('lxc-start', ['-n', name])).code, 0);
  assert.equal(await eth1Of(c, name), undefined, 'nobody has re-applied it yet');
  await h.startAgent();
  await eventually('eth1 back', async () => (await eth1Of(c, name)) !== undefined);
  assert.deepEqual(await eth1Of(c, name), first);
  assert.ok(await h.hostLink(`${h.p}v`), 'the host-side name asked for (-l)');
  const route = await c.lxc('lxc-attach', ['-n', name, '--', 'ip', 'route', 'show', 'default']);
  assert.match(route.stdout, /default via 10\.11\.0\.254 dev eth1/, 'the gateway too');
  await eventually('up in ls', async () => (await h.ls()).find((r) => r.container === name)?.state === 'up');
});

test(
  'through the controller: lxc-destroy frees the address for another container',
  { skip: lxcWhy || false },
  async (tc) => {
    const t = scope(tc);
    const fleet = await startTestFleet({ hosts: 1, tag: 'x', agentArgs: () => NO_PASS });
    t.after(() => fleet.down());
    await fleet.startController();
    const host = fleet.hosts[0]!;
    assert.equal((await fleet.cli('host', 'add', 'h1', '--addr', host.agentAddr)).code, 0);
    assert.equal((await fleet.cli('net', 'create', 'lxcnet', '--subnet', '10.73.0.0/24')).code, 0);
    const ls = async () => LsOutput.parse(JSON.parse((await fleet.cli('ls', '--json')).stdout));
    const name = `${fleet.prefix}-x`;
    const c = await lxcContainer(t, name, host.ns);
    const a = await fleet.cli('attach', '--host', 'h1', `lxc:${name}`, '10.73.0.5/24');
    assert.equal(a.code, 0, a.stderr);
    const mac = (await ls()).find((r) => r.container === name)!.mac;
    assert.equal((await eth1Of(c, name))?.mac, mac);
    assert.equal((await c.lxc('lxc-stop', ['-k', '-n', name])).code, 0);
    assert.equal((await c.lxc('lxc-start', ['-n', name])).code, 0);
    await eventually('eth1 back after the restart', async () => (await eth1Of(c, name))?.mac === mac);
    await eventually(
      'up in the controller',
      async () => (await ls()).find((r) => r.container === name)?.state === 'up',
    );

    assert.equal((await c.lxc('lxc-destroy', ['-f', '-n', name])).code, 0);
    await eventually('gone from the controller', async () => !(await ls()).some((r) => r.container === name));
    const other = await netns(t, `${fleet.prefix}-o`);
    const b = await fleet.cli('attach', '--host', 'h1', `netns:${other}`, '10.73.0.5/24');
    assert.equal(b.code, 0, b.stderr);
  },
);
