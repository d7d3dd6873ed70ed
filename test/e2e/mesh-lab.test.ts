// The mesh on a lab fleet: the lab's own agents (each in its host namespace, own --socket,
// --state-dir, --ovs-db) take ApplyMesh over their sockets; Docker containers attached by the
// CLI on different hosts ping over kernel VXLAN (Linux bridge), OVS GRE and OVS VXLAN; BFD and
// probes report up; `lab down` leaves none of the lab's namespaces or containers.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { connectAgent } from '../../cli/client/agent.js';
import { ExecRunner } from '../../common/runner.js';
import { agentMeshSpec } from '../../common/mesh/to-agent.js';
import { planMesh, type MeshNetwork } from '../../common/mesh/plan.js';
import { labDown, LAB_LABEL } from '../../lab/down.js';
import { ensureBusyboxImage, runBusybox } from '../../lab/image.js';
import { labUp, type LabHostInfo, type LabUpResult } from '../../lab/up.js';
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

/** A labelled busybox container on a lab host, attached by the CLI through that host's agent. */
async function dockerOn(
  h: LabHostInfo,
  container: string,
  bridge: string,
  cidr: string,
  mtu: number,
): Promise<{ name: string; pid: string }> {
  await runBusybox(runner, { name: container, labels: [`${LAB_LABEL}=${name}`] });
  const r = await runner.run(
    'node',
    [bin, '--socket', h.agentSocket, 'attach', '--mtu', String(mtu), bridge, container, cidr],
    { allowFail: true },
  );
  assert.equal(r.code, 0, r.stderr);
  return {
    name: container,
    pid: (await runner.run('docker', ['inspect', '-f', '{{.State.Pid}}', container])).stdout.trim(),
  };
}

/** busybox ping has no -M: DF pings run iputils' ping inside the container's namespace. */
function ping(from: { pid: string }, to: string, size?: number) {
  return runner.run(
    'nsenter',
    [
      `--net=/proc/${from.pid}/ns/net`,
      'ping',
      '-n',
      '-c',
      '1',
      '-W',
      '2',
      ...(size ? ['-s', String(size), '-M', 'do'] : []),
      to,
    ],
    { allowFail: true, timeoutMs: 20_000 },
  );
}

test(
  'lab agents converge kernel VXLAN, OVS GRE and OVS VXLAN meshes; Docker containers on h1 and h3 ping over each; ' +
    'down leaves none of it',
  async () => {
    const lab: LabUpResult = await labUp({ name, hosts: 3 });
    const all = ['h1', 'h2', 'h3'];
    const nets: MeshNetwork[] = [
      // OVS in user space takes UDP 4789 for its own VXLAN ports: the kernel's VXLAN uses 8472 here.
      { name: 'green', kind: 'bridge', encap: 'vxlan', key: 42, bridge: 'br-green', members: all, dstPort: 8472 },
      { name: 'blue', kind: 'ovs', encap: 'gre', key: 100, bridge: 'ovs-blue', members: all },
      { name: 'violet', kind: 'ovs', encap: 'vxlan', key: 5000, bridge: 'ovs-vio', members: all },
    ];
    const plans = planMesh(
      lab.hosts.map((h) => ({ name: h.name, underlayIp: h.underlayIp })),
      nets,
    );
    for (const h of lab.hosts) {
      const conn = connectAgent(h.agentSocket);
      try {
        // No datapath in the spec: the lab agents' own --ovs-datapath netdev applies.
        const r = await conn.call(
          conn.client.applyMesh,
          agentMeshSpec(
            plans.find((x) => x.host === h.name)!,
            1,
          ),
        );
        assert.deepEqual([r.added, r.errors], [6, []], `${h.name}`);
      } finally {
        conn.close();
      }
    }
    const [h1, , h3] = lab.hosts as [LabHostInfo, LabHostInfo, LabHostInfo];
    for (const [bridge, subnet, mtu] of [
      ['br-green', '10.2.2', 1450],
      ['ovs-blue', '10.1.1', 1458],
      ['ovs-vio', '10.3.3', 1450],
    ] as const) {
      const a = await dockerOn(h1, `${name}-${bridge}-1`, bridge, `${subnet}.1/24`, mtu);
      await dockerOn(h3, `${name}-${bridge}-3`, bridge, `${subnet}.3/24`, mtu);
      let ok = false;
      for (let i = 0; i < 10 && !ok; i++) ok = (await ping(a, `${subnet}.3`)).code === 0;
      assert.ok(ok, `${bridge}: h1 -> h3`);
      assert.equal((await ping(a, `${subnet}.3`, mtu - 28)).code, 0, `${bridge}: DF ${mtu - 28}`);
      assert.notEqual((await ping(a, `${subnet}.3`, mtu - 27)).code, 0, `${bridge}: DF ${mtu - 27}`);
    }

    // Status through the agent: the OVS tunnels' BFD comes up, the kernel VXLAN peers answer.
    const conn = connectAgent(h1.agentSocket);
    try {
      let st = await conn.call(conn.client.meshStatus, { network: '', waitUpMs: 0 });
      for (let i = 0; i < 30 && !st.tunnels.every((t) => t.state === 'up'); i++) {
        await new Promise((r) => setTimeout(r, 500));
        st = await conn.call(conn.client.meshStatus, { network: '', waitUpMs: 0 });
      }
      assert.deepEqual(st.tunnels.map((t) => `${t.network}/${t.peer}:${t.state}`).sort(), [
        'blue/h2:up',
        'blue/h3:up',
        'green/h2:up',
        'green/h3:up',
        'violet/h2:up',
        'violet/h3:up',
      ]);
    } finally {
      conn.close();
    }

    // The lab's own tests compare whole-machine snapshots around `down`; on this shared machine
    // other runs change those meanwhile, so this one checks what it made: namespaces and containers.
    await labDown({ name });
    assert.deepEqual(
      (await runner.run('ip', ['netns', 'list'])).stdout.split('\n').filter((l) => l.startsWith(`${name}-`)),
      [],
    );
    assert.equal(
      (await runner.run('docker', ['ps', '-aq', '--filter', `label=${LAB_LABEL}=${name}`])).stdout.trim(),
      '',
    );
  },
);
