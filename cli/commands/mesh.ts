// fleetnet mesh: the tunnel mesh as one host's agent sees it. `status` asks the agent; `apply`
// plans a mesh from a file (hosts + networks) and hands this host its part — a mesh without a
// controller, the same file on every host. The controller's `mesh add/rm` build on the same plan.
import type { Command } from 'commander';
import { invalid } from '../../common/errors.js';
import { printJson, table } from '../output/table.js';

const FILE_EXAMPLE = `{
  "hosts": [{ "name": "h1", "underlayIp": "10.99.0.11" }, { "name": "h2", "underlayIp": "10.99.0.12" }],
  "networks": [{ "name": "blue", "kind": "ovs", "encap": "gre", "key": 100, "bridge": "ovs-blue", "members": ["h1", "h2"] }]
}`;

export function register(program: Command): void {
  const mesh = program.command('mesh').summary('tunnels between hosts: status, apply').description('The tunnel mesh between the hosts of a network, as this host\'s agent keeps it.');
  mesh
    .command('status')
    .summary('state of each tunnel on this host')
    .option('--json', 'print JSON for scripts')
    .addHelpText('after', '\nExamples:\n  fleetnet mesh status\n  fleetnet --socket /run/fleetnet-lab/lab/h1/agent.sock mesh status --json')
    .action(async (opts: { json?: boolean }, cmd: Command) => {
      const { connectAgent } = await import('../client/agent.js');
      const conn = connectAgent(cmd.optsWithGlobals().socket as string | undefined);
      try {
        const res = await conn.call(conn.client.meshStatus, {});
        if (opts.json) return printJson(res);
        const when = (ms: number) => (ms ? new Date(ms).toISOString().slice(11, 19) : '-');
        const rows = res.tunnels.map((t) => [t.network, t.peer, t.peerIp, t.port, `${t.kind}/${t.encap}`, t.state, when(t.checkedAtMs), t.detail]);
        process.stdout.write(`generation ${res.generation}\n` + table(['NETWORK', 'PEER', 'PEER-IP', 'PORT', 'KIND', 'STATE', 'CHECKED', 'DETAIL'], rows) + '\n');
        if (res.tunnels.some((t) => t.state === 'down' || t.state === 'missing')) process.exitCode = 1;
      } finally {
        conn.close();
      }
    });
  mesh
    .command('apply')
    .summary('give this host its part of a mesh described in a file')
    .argument('<file>', 'JSON: { hosts: [...], networks: [...] }')
    .requiredOption('--host <name>', 'which host of the file this agent is')
    .option('--generation <n>', 'generation of this mesh (default: now in ms, so a later apply wins)')
    .option('--datapath <type>', 'datapath type for OVS bridges the mesh creates (netdev for user-space OVS)')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', `\nThe file:\n${FILE_EXAMPLE}\n\nExamples:\n  fleetnet mesh apply mesh.json --host h1\n  fleetnet --socket /run/fleetnet-lab/lab/h2/agent.sock mesh apply mesh.json --host h2 --datapath netdev`)
    .action(async (file: string, opts: { host: string; generation?: string; datapath?: string; json?: boolean }, cmd: Command) => {
      const { readMeshFile } = await import('../../controller/mesh/mesh-file.js');
      const spec = readMeshFile(file);
      const generation = opts.generation === undefined ? Date.now() : Number(opts.generation);
      if (!Number.isSafeInteger(generation) || generation < 0) throw invalid(`--generation ${opts.generation} is not a whole number ≥ 0`);
      if (!spec.hosts.some((h) => h.name === opts.host)) throw invalid(`host ${opts.host} is not in ${file}`, `one of: ${spec.hosts.map((h) => h.name).join(', ')}`);
      const { planForHost } = await import('../../controller/mesh/plan.js');
      const { agentMeshSpec } = await import('../../controller/mesh/to-agent.js');
      const plan = planForHost(opts.host, spec.hosts, spec.networks);
      const { connectAgent } = await import('../client/agent.js');
      const conn = connectAgent(cmd.optsWithGlobals().socket as string | undefined);
      try {
        const res = await conn.call(conn.client.applyMesh, agentMeshSpec(plan, generation, opts.datapath ? { datapathType: opts.datapath } : {}));
        if (opts.json) printJson(res);
        else {
          process.stdout.write(`mesh generation ${res.generation} on ${opts.host}: ${res.added} added, ${res.removed} removed, ${res.kept} kept (${res.changes} changes)\n`);
          for (const e of res.errors) process.stderr.write(`fleetnet: network ${e.network} not converged: ${e.message}\n`);
        }
        if (res.errors.length) process.exitCode = 1;
      } finally {
        conn.close();
      }
    });
}
