// A standalone agent follows its containers (issue 11): `-l` onto someone else's interface is
// refused and leaves it intact; a restarted container gets the same interface back (20 times: one
// interface, one address); stopped shows in ls; removal releases the host side; a labelled container
// is attached on start (also with options in its label); kill -9 in a burst of 30 attaches, then lost records:
// re-asked attaches are made or adopted, orphans removed by check --fix, and check is clean with ip agreeing with ls.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connectAgent } from '../../cli/client/agent.js';
import type { AttachRequest } from '../../proto/gen/fleetnet/v1/agent.js';
import { attachRequest } from '../helpers/attach-request.js';
import { cli, startAgentIn, type AgentProc } from '../helpers/agent-process.js';
import { BUSYBOX_IMAGE, dockerUnavailable, ensureTestImage, TEST_LABEL, TestContainers } from '../helpers/docker.js';
import { addNs, delNs, sh, uniquePrefix } from '../helpers/netns.js';
import { eventually } from '../helpers/poll.js';
import { renameSync } from 'node:fs';

const P = uniquePrefix('lc');
const NS = `${P}-agent`;
const TARGETS = Array.from({ length: 30 }, (_, i) => `${P}-t${i}`);
const dockerWhy = await dockerUnavailable();
let agent: AgentProc;
let docker: TestContainers;

interface Row {
  container: string;
  ifname: string;
  mac: string;
  addresses: string[];
  state: string;
  hostIfname: string;
}

async function ls(): Promise<Row[]> {
  const r = await cli(agent.socket, 'ls', '--json');
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Row[];
}

async function linkOf(name: string, dev: string): Promise<{ mac: string; mtu: string; addrs: string[] } | undefined> {
  const r = await sh.run('docker', ['exec', name, 'ip', '-o', 'addr', 'show', 'dev', dev], { allowFail: true });
  if (r.code !== 0) return undefined;
  const sys = async (f: string) =>
    (await sh.run('docker', ['exec', name, 'cat', `/sys/class/net/${dev}/${f}`])).stdout.trim();
  const addrs = [...r.stdout.matchAll(/inet6? (\S+)/g)].map((m) => m[1]!).filter((a) => !a.startsWith('fe80'));
  return { mac: await sys('address'), mtu: await sys('mtu'), addrs };
}

async function eth1Of(name: string): Promise<{ mac: string; addrs: string[] } | undefined> {
  const l = await linkOf(name, 'eth1');
  return l && { mac: l.mac, addrs: l.addrs };
}

const hostVeths = async () =>
  (await sh.run('ip', ['-n', NS, '-o', 'link', 'show'])).stdout.split('\n').filter((l) => /: fn[0-9a-f]{12}@/.test(l))
    .length;

const request = (target: string, i: number): AttachRequest =>
  attachRequest({
    hostIf: 'br-b',
    target: { kind: 'netns', value: target },
    ifname: 'eth1',
    addresses: [{ static: { cidr: `10.62.0.${i + 10}/24`, gateway: '' } }],
  });

describe('agent lifecycle', { skip: dockerWhy ? `Docker: ${dockerWhy}` : false }, () => {
  before(async () => {
    await addNs(NS);
    for (const t of TARGETS) await addNs(t);
    await ensureTestImage();
    docker = new TestContainers(P);
    agent = await startAgentIn(NS, undefined, ['--host-name', `${P}-h1`, '--lifecycle-pass-ms', '500']);
  });

  after(async () => {
    await docker?.cleanup();
    await agent?.stop();
    agent?.cleanup();
    for (const t of TARGETS) await delNs(t);
    await delNs(NS);
  });

  it('attach -l onto an existing interface exits 2 naming it, and leaves it intact', async () => {
    await sh.run('ip', ['-n', NS, 'link', 'add', 'victim0', 'type', 'veth', 'peer', 'name', 'victim1']);
    const c = await docker.start('v');
    const r = await cli(agent.socket, 'attach', 'br-a', '-l', 'victim0', c.name, '10.61.0.2/24');
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /victim0 already exists/);
    assert.equal(
      (await sh.run('ip', ['-n', NS, 'link', 'show', 'victim0'], { allowFail: true })).code,
      0,
      'victim0 is still there',
    );
    assert.equal(await eth1Of(c.name), undefined, 'nothing half-made in the container');
  });

  it('a container restarted 20 times keeps one interface and one address; stopped shows in ls', async () => {
    const c = await docker.start('r');
    const a = await cli(agent.socket, 'attach', 'br-a', c.name, '10.61.0.5/24');
    assert.equal(a.code, 0, a.stderr);
    const first = (await eth1Of(c.name))!;
    assert.deepEqual(first.addrs, ['10.61.0.5/24']);
    await sh.run('docker', ['stop', '-t', '0', c.name]);
    await eventually('stopped in ls', async () =>
      (await ls()).some((x) => x.container === c.name && x.state === 'stopped'),
    );
    await sh.run('docker', ['start', c.name]);
    for (let i = 0; i < 20; i++) {
      if (i > 0) await sh.run('docker', ['restart', '-t', '0', c.name]);
      await eventually(`eth1 back after restart ${i}`, async () => (await eth1Of(c.name))?.addrs.length === 1);
      assert.deepEqual(await eth1Of(c.name), first);
    }
    const rows = (await ls()).filter((x) => x.container === c.name);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.state, 'up');
    const ports = (await sh.run('ip', ['-n', NS, '-o', 'link', 'show', 'master', 'br-a'])).stdout
      .trim()
      .split('\n')
      .filter(Boolean);
    assert.equal(ports.length, 1, ports.join('\n'));
  });

  it('docker rm -f releases the host side and the record', async () => {
    const c = await docker.start('gone');
    const a = await cli(agent.socket, 'attach', 'br-a', c.name, '10.61.0.6/24');
    assert.equal(a.code, 0, a.stderr);
    const peer = (await ls()).find((x) => x.container === c.name)!.hostIfname;
    await sh.run('docker', ['rm', '-f', c.name]);
    await eventually('record released', async () => !(await ls()).some((x) => x.container === c.name));
    assert.notEqual(
      (await sh.run('ip', ['-n', NS, 'link', 'show', peer], { allowFail: true })).code,
      0,
      `${peer} is gone`,
    );
  });

  it("a labelled container is attached when it starts; another host's is left alone", async () => {
    const run = (name: string, host: string) =>
      sh.run('docker', [
        'run',
        '-d',
        '--network',
        'none',
        '--name',
        `${P}-${name}`,
        '--label',
        `${TEST_LABEL}=${P}`,
        '--label',
        'fleetnet.attach=br-a 10.61.0.9/24',
        '--label',
        `fleetnet.host=${host}`,
        BUSYBOX_IMAGE,
        'sleep',
        '3600',
      ]);
    await run('other', `${P}-h2`);
    await run('mine', `${P}-h1`);
    await eventually('label attach', async () => (await eth1Of(`${P}-mine`))?.addrs[0] === '10.61.0.9/24');
    assert.equal(await eth1Of(`${P}-other`), undefined);
    // The README's label: options after the words, as on the command line (-i: the container interface).
    const opts = await sh.run('docker', [
      'run',
      '-d',
      '--network',
      'none',
      '--name',
      `${P}-opts`,
      '--label',
      `${TEST_LABEL}=${P}`,
      '--label',
      'fleetnet.attach=br-a 10.61.0.10/24 U:web1 -i eth2 --mtu 1400',
      '--label',
      `fleetnet.host=${P}-h1`,
      BUSYBOX_IMAGE,
      'sleep',
      '3600',
    ]);
    assert.equal(opts.code, 0, opts.stderr);
    await eventually('label with -i', async () => (await linkOf(`${P}-opts`, 'eth2'))?.addrs[0] === '10.61.0.10/24');
    const eth2 = (await linkOf(`${P}-opts`, 'eth2'))!;
    assert.deepEqual([eth2.mac, eth2.mtu], ['02:66:ee:60:6d:50', '1400'], 'U:web1 and --mtu from the label');
    assert.equal(await eth1Of(`${P}-opts`), undefined, 'no eth1: -i named the interface');
    const bad = await sh.run('docker', [
      'run',
      '-d',
      '--network',
      'none',
      '--name',
      `${P}-bad`,
      '--label',
      `${TEST_LABEL}=${P}`,
      '--label',
      'fleetnet.attach=br-a 10.61.0.300/24',
      '--label',
      `fleetnet.host=${P}-h1`,
      BUSYBOX_IMAGE,
      'sleep',
      '3600',
    ]);
    assert.equal(bad.code, 0);
    await eventually('label error reported', async () => {
      const conn = connectAgent(agent.socket);
      try {
        const l = await conn.call(conn.client.list, {});
        return l.labelled.some((x) => x.name === `${P}-bad` && x.errors.some((e) => /10\.61\.0\.300/.test(e)));
      } finally {
        conn.close();
      }
    });
    assert.equal(await eth1Of(`${P}-bad`), undefined, 'nothing half-made');
    const l = await cli(agent.socket, 'ls', '--json');
    assert.match(l.stderr, new RegExp(`labels of ${P}-bad not acted on: .*10\\.61\\.0\\.300`));
    JSON.parse(l.stdout); // stdout stays the ls schema
  });

  it(
    'kill -9 during 30 attaches, then lost records: ' + 're-asked attaches made or adopted, orphans fixed, check clean',
    async () => {
      const conn = connectAgent(agent.socket);
      const burst = TARGETS.map((t, i) => conn.call(conn.client.attach, request(t, i), 30_000).catch(() => undefined));
      await new Promise((r) => setTimeout(r, 150));
      agent.proc.kill('SIGKILL');
      await Promise.all(burst);
      conn.close();
      await agent.stop();
      agent = await startAgentIn(NS, agent.socket.replace(/\/agent\.sock$/, ''), [
        '--host-name',
        `${P}-h1`,
        '--lifecycle-pass-ms',
        '500',
      ]);
      const again = connectAgent(agent.socket);
      try {
        for (const [i, t] of TARGETS.entries()) await again.call(again.client.attach, request(t, i), 30_000);
      } finally {
        again.close();
      }
      let check = await cli(agent.socket, 'check', '--json');
      assert.equal(
        check.code,
        0,
        check.stdout +
          check.stderr +
          JSON.stringify(await ls()) +
          (await sh.run('ip', ['-n', NS, '-br', 'link'])).stdout,
      );
      assert.equal(await hostVeths(), (await ls()).filter((x) => x.hostIfname).length);

      // Records lost: the first 3 re-asked are adopted as they are; the other 27 are orphans.
      await agent.stop();
      renameSync(`${agent.stateDir}/attachments`, `${agent.stateDir}/attachments.lost`);
      agent = await startAgentIn(NS, agent.socket.replace(/\/agent\.sock$/, ''), [
        '--host-name',
        `${P}-h1`,
        '--lifecycle-pass-ms',
        '60000',
      ]);
      for (const [i, t] of TARGETS.slice(0, 3).entries()) {
        const r = await cli(agent.socket, 'attach', 'br-b', `netns:${t}`, `10.62.0.${i + 10}/24`);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^already attached/, 'adopted, not made again');
      }
      check = await cli(agent.socket, 'check', '--json');
      assert.equal(check.code, 1);
      // The 27 unasked targets, plus the restarted container's veth (its record went too; the labelled one is re-made
      // from its labels).
      assert.ok(JSON.parse(check.stdout).orphans >= 27, check.stdout);
      const fixed = await cli(agent.socket, 'check', '--fix', '--json');
      assert.equal(fixed.code, 0, fixed.stdout);
      check = await cli(agent.socket, 'check', '--json');
      assert.equal(check.code, 0, check.stdout);
      const s = JSON.parse(check.stdout);
      assert.deepEqual([s.leaks, s.orphans, s.duplicates], [0, 0, 0]);
      const rows = await ls();
      assert.equal(await hostVeths(), rows.filter((x) => x.hostIfname).length);
      for (const t of TARGETS.slice(0, 3))
        assert.ok(
          rows.some((x) => x.container === t && x.state === 'up'),
          t,
        );
      assert.ok(await victimStillThere(), 'the unrelated interface survived every pass');
    },
  );
});

function victimStillThere(): Promise<boolean> {
  return sh.run('ip', ['-n', NS, 'link', 'show', 'victim0'], { allowFail: true }).then((r) => r.code === 0);
}
