// The mesh on a lab fleet: the lab's own agents (each in its host namespace, own --socket,
// --state-dir, --ovs-db) take ApplyMesh over their sockets; Docker containers attached by the
// CLI to a Linux-bridge network on different hosts ping over kernel VXLAN; an OVS GRE mesh's
// BFD sessions come up; `lab down` leaves none of the lab's namespaces or containers.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { connectAgent } from '../../cli/client/agent.js';
import { ExecRunner } from '../../common/runner.js';
import { agentMeshSpec } from '../../controller/mesh/to-agent.js';
import { planMesh, type MeshNetwork } from '../../controller/mesh/plan.js';
import { labDown, LAB_LABEL } from '../../lab/down.js';
import { ensureBusyboxImage, runBusybox } from '../../lab/image.js';
import { labUp, type LabUpResult } from '../../lab/up.js';
import { ensureBuilt } from '../helpers/build.js';
import { newRunId } from '../helpers/docker.js';

const runner = new ExecRunner();
const name = newRunId('m');
let bin = '';

before(async () => {
  bin = await ensureBuilt(runner);
  await ensureBusyboxImage(runner);
});
after(async () => {
  await labDown({ name });
});

test('lab agents converge a VXLAN and a GRE mesh; Docker containers on h1 and h3 ping over VXLAN; down leaves none of it', async () => {
  const lab: LabUpResult = await labUp({ name, hosts: 3 });
  const nets: MeshNetwork[] = [
    { name: 'green', kind: 'bridge', encap: 'vxlan', key: 42, bridge: 'br-green', members: ['h1', 'h2', 'h3'] },
    { name: 'blue', kind: 'ovs', encap: 'gre', key: 100, bridge: 'ovs-blue', members: ['h1', 'h2', 'h3'] },
  ];
  const plans = planMesh(lab.hosts.map((h) => ({ name: h.name, underlayIp: h.underlayIp })), nets);
  for (const h of lab.hosts) {
    const conn = connectAgent(h.agentSocket);
    try {
      const p = plans.find((x) => x.host === h.name)!;
      const r = await conn.call(conn.client.applyMesh, agentMeshSpec(p, 1, { datapathType: 'netdev' }));
      assert.deepEqual([r.added, r.errors], [4, []], `${h.name}`);
    } finally {
      conn.close();
    }
  }

  const [h1, , h3] = lab.hosts;
  const web = [`${name}-web1`, `${name}-web3`];
  for (const [i, n] of web.entries()) {
    await runBusybox(runner, { name: n, labels: [`${LAB_LABEL}=${name}`] });
    const h = [h1!, h3!][i]!;
    const r = await runner.run('node', [bin, '--socket', h.agentSocket, 'attach', '--mtu', '1450', 'br-green', n, `10.2.2.${i + 1}/24`], { allowFail: true });
    assert.equal(r.code, 0, r.stderr);
  }
  // busybox ping has no -M: the DF pings run iputils' ping inside the container's namespace.
  const pid = (await runner.run('docker', ['inspect', '-f', '{{.State.Pid}}', web[0]!])).stdout.trim();
  const ping = (size?: number) =>
    runner.run('nsenter', [`--net=/proc/${pid}/ns/net`, 'ping', '-n', '-c', '1', '-W', '2', ...(size ? ['-s', String(size), '-M', 'do'] : []), '10.2.2.2'], { allowFail: true, timeoutMs: 20_000 });
  const dockerPing = () => runner.run('docker', ['exec', web[0]!, 'ping', '-c', '1', '-W', '2', '10.2.2.2'], { allowFail: true, timeoutMs: 20_000 });
  let ok = false;
  for (let i = 0; i < 10 && !ok; i++) ok = (await dockerPing()).code === 0;
  assert.ok(ok, 'web1 on h1 -> web3 on h3 over the VXLAN mesh');
  assert.equal((await ping(1422)).code, 0, 'DF 1422');
  assert.notEqual((await ping(1423)).code, 0, 'DF 1423');

  // Status through the agent: the GRE tunnels' BFD comes up, the VXLAN peers answer.
  const conn = connectAgent(h1!.agentSocket);
  try {
    let st = await conn.call(conn.client.meshStatus, {});
    for (let i = 0; i < 30 && !st.tunnels.every((t) => t.state === 'up'); i++) {
      await new Promise((r) => setTimeout(r, 500));
      st = await conn.call(conn.client.meshStatus, {});
    }
    assert.deepEqual(st.tunnels.map((t) => `${t.network}/${t.peer}:${t.state}`).sort(), ['blue/h2:up', 'blue/h3:up', 'green/h2:up', 'green/h3:up']);
  } finally {
    conn.close();
  }

  // The lab's own tests compare whole-machine snapshots around `down`; on this shared machine
  // other runs change those meanwhile, so this one checks what it made: namespaces and containers.
  await labDown({ name });
  assert.deepEqual((await runner.run('ip', ['netns', 'list'])).stdout.split('\n').filter((l) => l.startsWith(`${name}-`)), []);
  assert.equal((await runner.run('docker', ['ps', '-aq', '--filter', `label=${LAB_LABEL}=${name}`])).stdout.trim(), '');
});
