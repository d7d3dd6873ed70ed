// Mesh join benchmark: time to join the Nth host (N = 2..8) to a meshed network, and the number
// of changes each join makes per host. Hosts are simulated in namespaces (own user-space OVS,
// br-phy underlay), as in the tests. Writes bench/results/mesh.json.
// Run: node --import tsx bench/mesh.ts [--reps 5] [--max-hosts 8]
import { availableParallelism, release } from 'node:os';
import { writeResults, type ResultRow } from './lib/results.js';
import { performance } from 'node:perf_hooks';
import type { MeshNetwork } from '../common/mesh/plan.js';
import { isMeshWrite, MeshFleet, type SimContainer } from '../test/helpers/mesh-fleet.js';
import { newRunId } from '../test/helpers/docker.js';

const arg = (name: string, def: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const REPS = arg('--reps', 5);
const MAX_HOSTS = arg('--max-hosts', 8);

const JOIN_TIMED =
  'planMesh + Mesher.apply on every member host in parallel ' +
  '(each reads back ovs-vsctl / ip -json -d link / bridge -json fdb / nft -j ' +
  'through its Runner into its namespace, diffs, applies) until every host reports converged';
const READY_TIMED = 'the same, plus pings from a container on h1 until one on the new host answers';

interface Row extends ResultRow {
  changesPerExistingHost: number[];
  changesOnNewHost: number[];
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! * 10) / 10;
}

async function benchKind(kind: 'ovs' | 'bridge', encap: 'gre' | 'vxlan'): Promise<Row[]> {
  const fleet = await MeshFleet.create(newRunId('b'), MAX_HOSTS);
  const net: MeshNetwork = {
    name: 'bench',
    kind,
    encap,
    key: 900,
    bridge: kind === 'ovs' ? 'ovs-bench' : 'br-bench',
    members: ['h1'],
  };
  const mtu = encap === 'gre' ? 1458 : 1450;
  let generation = 0;
  const rows: Row[] = [];
  try {
    // Hosts outside the mesh are built up front (lab) and take part only once they join.
    const members = () => [...net.members];
    await fleet.applyPlan([net], ++generation, 'netdev', { only: members() });
    let first: SimContainer | undefined; // made once h1's bridge exists (the first join makes it)
    for (let n = 2; n <= MAX_HOSTS; n++) {
      const h = fleet.host(`h${n}`);
      let probe: SimContainer | undefined;
      const joinMs: number[] = [];
      const readyMs: number[] = [];
      const perExisting: number[] = [];
      const onNew: number[] = [];
      for (let rep = 0; rep < REPS; rep++) {
        // Leave (not timed), then join (timed): the controller hands every host its new part, in parallel.
        net.members = net.members.filter((m) => m !== h.name);
        await fleet.applyPlan([net], ++generation, 'netdev', { only: [...members(), h.name] });
        for (const x of fleet.hosts) x.runner.calls.length = 0;
        net.members.push(h.name);
        const t0 = performance.now();
        await fleet.applyPlan([net], ++generation, 'netdev', { parallel: true, only: members() });
        joinMs.push(performance.now() - t0);
        first ??= await fleet.container('h1', kind, net.bridge, '10.77.0.1/24', mtu);
        probe ??= await fleet.container(h.name, kind, net.bridge, `10.77.0.${n}/24`, mtu);
        // Data plane ready: the newcomer's container answers h1's (bounded: 50 tries).
        for (let i = 0; i < 50 && !(await fleet.ping(first, probe.ip)).ok; i++);
        readyMs.push(performance.now() - t0);
        for (const x of fleet.hosts.filter((y) => net.members.includes(y.name))) {
          const w = x.runner.calls.filter(isMeshWrite).length;
          if (x === h) onNew.push(w);
          else perExisting.push(w);
        }
      }
      const changes = {
        changesPerExistingHost: [...new Set(perExisting)].sort(),
        changesOnNewHost: [...new Set(onNew)].sort(),
      };
      rows.push(
        {
          name: `join host ${n} (${kind} ${encap})`,
          p50Ms: pct(joinMs, 50),
          p95Ms: pct(joinMs, 95),
          n: REPS,
          timed: JOIN_TIMED,
          ...changes,
        },
        {
          name: `join host ${n} (${kind} ${encap}) until a container pings`,
          p50Ms: pct(readyMs, 50),
          p95Ms: pct(readyMs, 95),
          n: REPS,
          timed: READY_TIMED,
          ...changes,
        },
      );
      console.error(JSON.stringify(rows.at(-2)));
    }
  } finally {
    await fleet.destroy();
  }
  return rows;
}

const rows = [...(await benchKind('ovs', 'gre')), ...(await benchKind('bridge', 'vxlan'))];
const changeNotes = rows
  .filter((r) => !r.name.endsWith('pings'))
  .map(
    (r) =>
      `${r.name}: ${r.changesPerExistingHost.join('/')} change(s) on each existing host, ` +
      `${r.changesOnNewHost.join('/')} on the new one`,
  );
writeResults('bench/results/mesh.json', {
  title: 'Mesh: time to join the Nth host, and changes per join',
  path: 'bench/mesh.ts',
  date: new Date().toISOString(),
  n: REPS,
  machine: { nproc: availableParallelism(), kernel: release(), node: process.version },
  rows,
  notes: [
    'Hosts are a lab (lab/ labUp without agents: network namespaces on one machine, ' +
      'each with its own user-space OVS, datapath netdev, and br-phy holding the underlay address), ' +
      "all 8 built up front; each host's Mesher runs in this process with a Runner into its namespace; " +
      'no gRPC hop (ApplyMesh over a unix socket adds ~1 ms).',
    'changesPerExistingHost counts mutating commands per existing host in the RecordingRunner log ' +
      '(set of values seen over all reps): OVS = the one add-port; ' +
      'Linux bridge VXLAN = the one flood entry + the one nft table replace that admits the newcomer.',
    'changesOnNewHost: OVS = one ovs-vsctl transaction (bridge when absent + one port per peer); ' +
      'Linux bridge = one ip -batch (bridge + device, first time only) ' +
      '+ one bridge -batch with a flood entry per peer + nft.',
    "Linux bridge, N=2: the first join also makes h1's bridge and VXLAN device (one ip -batch), hence 3 there; " +
      'later joins never touch it. OVS does that inside its one transaction.',
    'The machine is shared with other test runs: the timings are noisy (p95 especially).',
    `Each N: ${REPS} reps of leave (untimed) + join (timed). Target: join <= 2 s; ` +
      'exactly one tunnel change on each existing host.',
    ...changeNotes,
  ],
});
console.log('wrote bench/results/mesh.json');
