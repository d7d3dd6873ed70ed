// The mesh through real agent processes (gRPC ApplyMesh / MeshStatus), each agent inside its
// host's namespace with its own --socket, --state-dir and --ovs-db, as the lab runs them.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connectAgent, type AgentConn } from '../../cli/client/agent.js';
import { FleetnetError } from '../../common/errors.js';
import { planMesh } from '../../common/mesh/plan.js';
import { agentMeshSpec } from '../../common/mesh/to-agent.js';
import { cli, startAgentIn, type AgentProc } from '../helpers/agent-process.js';
import { writeFileSync } from 'node:fs';
import { MeshFleet, type SimContainer } from '../helpers/mesh-fleet.js';
import { sh } from '../helpers/netns.js';
import { newRunId } from '../helpers/docker.js';
import { blueNet } from '../unit/mesh-agent-fixture.js';

let fleet: MeshFleet;
const agents = new Map<string, AgentProc>();
const blue = blueNet({ key: 300, members: ['h1', 'h2'] });
const c: SimContainer[] = [];

async function start(host: string): Promise<AgentConn> {
  const h = fleet.host(host);
  agents.set(host, await startAgentIn(h.netns, join(h.dir, 'agent-proc'), ['--ovs-db', h.ovsDb, '--host-name', host]));
  return connectAgent(agents.get(host)!.socket);
}

function specFor(host: string, generation: number) {
  const p = planMesh(
    fleet.hosts.map((h) => ({ name: h.name, underlayIp: h.underlayIp })),
    [blue],
  ).find((x) => x.host === host)!;
  return agentMeshSpec(p, generation, { datapathType: 'netdev' });
}

describe('mesh through the agent gRPC API', () => {
  const conns = new Map<string, AgentConn>();
  before(async () => {
    fleet = await MeshFleet.create(newRunId('a'), 2);
    for (const h of ['h1', 'h2']) conns.set(h, await start(h));
  });
  after(async () => {
    for (const x of conns.values()) x.close();
    for (const a of agents.values()) await a.stop();
    await fleet?.destroy();
    assert.deepEqual(await fleet?.leftovers(), []);
  });

  it('ApplyMesh converges both hosts; containers ping over GRE; MeshStatus reports BFD up', async () => {
    for (const h of ['h1', 'h2']) {
      const conn = conns.get(h)!;
      const r = await conn.call(conn.client.applyMesh, specFor(h, 1));
      assert.deepEqual([r.generation, r.added, r.removed, r.errors], [1, 1, 0, []]);
      const again = await conn.call(conn.client.applyMesh, specFor(h, 1));
      assert.deepEqual([again.added, again.changes, again.kept], [0, 0, 1]);
    }
    c.push(await fleet.container('h1', 'ovs', 'ovs-blue', '10.5.5.1/24', 1458));
    c.push(await fleet.container('h2', 'ovs', 'ovs-blue', '10.5.5.2/24', 1458));
    assert.ok(await fleet.pingEventually(c[0]!, '10.5.5.2'));
    const conn = conns.get('h1')!;
    let st = await conn.call(conn.client.meshStatus, { network: '', waitUpMs: 0 });
    for (let i = 0; i < 20 && st.tunnels[0]?.state !== 'up'; i++) {
      await new Promise((r) => setTimeout(r, 500));
      st = await conn.call(conn.client.meshStatus, { network: '', waitUpMs: 0 });
    }
    assert.equal(st.generation, 1);
    assert.deepEqual(
      st.tunnels.map((t) => [t.network, t.peer, t.state]),
      [['blue', 'h2', 'up']],
    );
    assert.ok(st.tunnels[0]!.checkedAtMs > 0);
  });

  it('refuses an older generation and a bad spec with clear errors', async () => {
    const conn = conns.get('h1')!;
    await conn.call(conn.client.applyMesh, specFor('h1', 2));
    await assert.rejects(
      conn.call(conn.client.applyMesh, specFor('h1', 1)),
      (e: unknown) => e instanceof FleetnetError && /older than the one this agent holds \(2\)/.test(e.message),
    );
    const bad = specFor('h1', 3);
    bad.networks[0]!.kind = 'macvlan';
    await assert.rejects(
      conn.call(conn.client.applyMesh, bad),
      (e: unknown) =>
        e instanceof FleetnetError && e.kind === 'invalid' && /kind 'macvlan' is not ovs or bridge/.test(e.message),
    );
    const bad2 = specFor('h1', 3);
    bad2.networks[0]!.tunnels[0]!.peerIp = '10.99.0.12; reboot';
    await assert.rejects(
      conn.call(conn.client.applyMesh, bad2),
      (e: unknown) => e instanceof FleetnetError && e.kind === 'invalid',
    );
  });

  it(
    'a restarted agent converges to the mesh it held, ' +
      'with no new order (a port deleted while it was down comes back)',
    async () => {
      const h1 = fleet.host('h1');
      await agents.get('h1')!.stop();
      conns.get('h1')!.close();
      const port = specFor('h1', 2).networks[0]!.tunnels[0]!.port;
      await sh.run('ovs-vsctl', [`--db=${h1.ovsDb}`, 'del-port', 'ovs-blue', port]);
      assert.equal((await fleet.ping(c[0]!, '10.5.5.2')).ok, false);
      conns.set('h1', await start('h1'));
      assert.ok(await fleet.pingEventually(c[0]!, '10.5.5.2', 20));
      const conn = conns.get('h1')!;
      assert.equal((await conn.call(conn.client.meshStatus, { network: '', waitUpMs: 0 })).generation, 2);
    },
  );

  it('the CLI: mesh apply FILE --host gives the agent its part; mesh status shows it; bad input exits 2', async () => {
    const h1 = fleet.host('h1');
    const file = join(h1.dir, 'mesh.json');
    writeFileSync(
      file,
      JSON.stringify({ hosts: fleet.hosts.map((h) => ({ name: h.name, underlayIp: h.underlayIp })), networks: [blue] }),
    );
    const socket = agents.get('h1')!.socket;
    const r = await cli(
      socket,
      'mesh',
      'apply',
      file,
      '--host',
      'h1',
      '--generation',
      '10',
      '--datapath',
      'netdev',
      '--json',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      (({ generation, added, removed, kept }) => ({ generation, added, removed, kept }))(JSON.parse(r.stdout)),
      { generation: 10, added: 0, removed: 0, kept: 1 },
    );
    let st = await cli(socket, 'mesh', 'status', '--json');
    for (let i = 0; i < 20 && JSON.parse(st.stdout).tunnels[0]?.state !== 'up'; i++) {
      await new Promise((res) => setTimeout(res, 500));
      st = await cli(socket, 'mesh', 'status', '--json');
    }
    assert.equal(st.code, 0, st.stderr);
    assert.equal(JSON.parse(st.stdout).tunnels[0].state, 'up');
    const human = await cli(socket, 'mesh', 'status');
    assert.match(human.stdout, /^generation 10\nNETWORK +PEER +PEER-IP/);
    assert.match(human.stdout, /blue +h2 +10\.99\.0\.12 +fg[0-9a-f]{12} +ovs\/gre +up/);
    const bad = await cli(socket, 'mesh', 'apply', file, '--host', 'h9');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /host h9 is not in .*mesh\.json/);
    const old = await cli(socket, 'mesh', 'apply', file, '--host', 'h1', '--generation', '3');
    assert.equal(old.code, 1);
    assert.match(old.stderr, /older than the one this agent holds \(10\)/);
  });
});
