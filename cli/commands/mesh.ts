// fleetnet mesh: the tunnel mesh. With a controller: `add/rm HOST --net N` change a network's
// members, `status` shows every member's tunnels. Without: `status` asks the local agent, and
// `apply FILE --host H` hands this host its part of a mesh described in a file (same plan).
import type { Command } from 'commander';
import type { ControllerConn } from '../client/controller.js';
import { exitCodeOf, FleetnetError, invalid, type ErrorKind } from '../../common/errors.js';
import { MAX_WAIT_UP_MS, permanentMeshError } from '../../common/mesh.js';
import { parseHostName } from '../../common/host-spec.js';
import { parseNetworkName } from '../../common/network-spec.js';
import { addOutputOptions, formatHelp, outputOf, type OutputSpec } from '../output/format.js';
import { printJson } from '../output/table.js';

/** A member's error on a network (network: which, where one answer speaks of several). */
type MemberResult = { host: string; error: string; errorKind?: string; network?: string };

/** The first member whose error on the network will not pass by waiting (the configuration refused, a host unable). */
export function hopelessMember<T extends MemberResult>(hosts: T[]): T | undefined {
  return hosts.find((h) => h.error && permanentMeshError(h.errorKind ?? ''));
}

/** hopelessMember, said on stderr: `fleetnet: blue on h3: …`. */
export function sayHopeless<T extends MemberResult>(hosts: T[], net = ''): T | undefined {
  const h = hopelessMember(hosts);
  const where = h?.network || net;
  if (h) process.stderr.write(`fleetnet: ${where ? `${where} on ` : ''}${h.host}: ${h.error}\n`);
  return h;
}

/**
 * `mesh add/rm`'s exit code, about the network asked for only (the controller reports each member's errors on it):
 * a member's error that waiting will not mend is 1 (2 when it is bad input), with or without --wait; otherwise 3
 * when a member's agent did not take the change (recorded all the same, the controller retries); with --wait,
 * what the tunnels say afterwards: 0 all up (the retries got through), 1 if one is not.
 */
export function memberExitCode(hosts: MemberResult[], tunnels?: { state: string }[]): number {
  const hopeless = hopelessMember(hosts);
  if (hopeless) return exitCodeOf(new FleetnetError(hopeless.errorKind as ErrorKind, hopeless.error));
  if (tunnels) return tunnels.some((t) => t.state !== 'up') ? 1 : 0;
  return hosts.some((h) => h.error) ? 3 : 0;
}

const FILE_EXAMPLE = `{
  "hosts": [{ "name": "h1", "underlayIp": "10.99.0.11" }, { "name": "h2", "underlayIp": "10.99.0.12" }],
  "networks": [
    { "name": "blue", "kind": "ovs", "encap": "gre", "key": 100, "bridge": "ovs-blue", "members": ["h1", "h2"] }
  ]
}`;

/** Time the RPC gets beyond the wait for "up" (the answers themselves). */
const STATUS_SLACK_MS = 15_000;

/** `--wait SECONDS` in ms (0 when absent): how long mesh status may wait for every tunnel to be up. */
function waitUpMsOf(wait: string | undefined): number {
  if (wait === undefined) return 0;
  const s = Number(wait);
  if (!Number.isFinite(s) || s < 0 || s * 1000 > MAX_WAIT_UP_MS)
    throw invalid(`--wait ${wait} is not a number of seconds (0-${MAX_WAIT_UP_MS / 1000})`, 'e.g. --wait 30');
  return Math.round(s * 1000);
}

async function fleetStatus(cmd: Command, opts: { net?: string; wait?: string }, spec: OutputSpec): Promise<void> {
  const waitUpMs = waitUpMsOf(opts.wait);
  const [{ withController }, { render }, { FLEET_TUNNELS_VIEW }] = await Promise.all([
    import('../client/controller.js'),
    import('../output/render.js'),
    import('../output/views.js'),
  ]);
  await withController(cmd.optsWithGlobals(), 'mesh status', async (conn) => {
    const req = { network: opts.net ?? '', waitUpMs };
    const res = await conn.call(conn.client.fleetMeshStatus, req, waitUpMs + STATUS_SLACK_MS);
    await render(spec, { items: res.tunnels, whole: res }, FLEET_TUNNELS_VIEW);
    // A member's error that waiting will not mend ended the wait (the controller's): said, and mesh add's exit code.
    sayHopeless(res.errors);
    process.exitCode = memberExitCode(res.errors, res.tunnels);
  });
}

export function register(program: Command): void {
  const mesh = program
    .command('mesh')
    .summary('tunnels between hosts: add, rm, status, apply')
    .description("The tunnel mesh between the hosts of a network, as this host's agent keeps it.");
  addOutputOptions(mesh.command('status'), { ids: 'tunnel ports' })
    .summary("state of each tunnel: the fleet's (controller) or this host's (local agent)")
    .option('--net <name>', 'with a controller: only this network')
    .option(
      '--wait <seconds>',
      'answer once every tunnel is up (each agent says so when BFD does), or after this long with the states then ' +
        "(at once: a member's error that waiting will not mend)",
    )
    .addHelpText(
      'after',
      `${formatHelp(['{{port}} {{state}}'])}\n\nExamples:\n` +
        `  fleetnet mesh status --net blue              # through the controller: every member host\n` +
        `  fleetnet mesh status --net blue --wait 30    # once every tunnel is up (exit 1 if not in 30 s)\n` +
        `  fleetnet --socket /run/fleetnet-lab/lab/h1/agent.sock mesh status --json   # one agent`,
    )
    .action(async (opts: { net?: string; wait?: string }, cmd: Command) => {
      const spec = await outputOf(cmd);
      const { controllerOf } = await import('../fleet/common.js');
      const ctl = await controllerOf(cmd);
      if (ctl) return fleetStatus(cmd, opts, spec);
      if (opts.net)
        throw invalid(
          '--net needs a controller',
          'give --controller ADDR; without it the local agent answers for this host',
        );
      const [{ connectAgent }, { render }, { AGENT_TUNNELS_VIEW }] = await Promise.all([
        import('../client/agent.js'),
        import('../output/render.js'),
        import('../output/views.js'),
      ]);
      const waitUpMs = waitUpMsOf(opts.wait);
      const conn = connectAgent(cmd.optsWithGlobals().socket as string | undefined);
      try {
        const res = await conn.call(conn.client.meshStatus, { network: '', waitUpMs }, waitUpMs + STATUS_SLACK_MS);
        await render(
          spec,
          { items: res.tunnels, whole: res, heading: `generation ${res.generation}` },
          AGENT_TUNNELS_VIEW,
        );
        if (res.tunnels.some((t) => t.state === 'down' || t.state === 'missing')) process.exitCode = 1;
      } finally {
        conn.close();
      }
    });
  for (const [verb, summary] of [
    ['add', "put hosts into a network's mesh: one new tunnel per newcomer on each member"],
    ['rm', "take hosts out of a network's mesh"],
  ] as const) {
    mesh
      .command(verb)
      .summary(summary)
      .argument('<host...>', 'fleet hosts (fleetnet hosts); several at once are one change, each member pushed once')
      .requiredOption('--net <name>', 'a network created with --mesh gre|vxlan')
      .option('--json', 'print JSON')
      .option('--wait <seconds>', 'then wait until every tunnel of the network is up (exit 1 if not in time)')
      .addHelpText(
        'after',
        [
          '',
          'An unknown host refuses the whole command (exit 2) and changes nothing.',
          '',
          'Examples:',
          '  fleetnet net create blue --subnet 10.1.1.0/24 --kind ovs --bridge ovs-blue --mesh gre',
          '  fleetnet mesh add h1 h2 h3 --net blue      # a fleet at once: each member pushed once',
          '  fleetnet mesh add h4 --net blue --wait 30  # one more: one port on each member; back once all are up',
          `  fleetnet mesh ${verb} h3 --net blue`,
        ].join('\n'),
      )
      .action(async (hosts: string[], opts: { net: string; json?: boolean; wait?: string }, cmd: Command) => {
        const waitUpMs = waitUpMsOf(opts.wait);
        hosts.forEach((h) => parseHostName(h)); // names no host or network can have: exit 2 before connecting
        parseNetworkName(opts.net);
        const { withController } = await import('../client/controller.js');
        await withController(cmd.optsWithGlobals(), `mesh ${verb}`, async (conn) => {
          // With --wait the controller asks each member for its tunnels as soon as its push is answered.
          const req = { host: '', hosts, network: opts.net, waitUpMs };
          const who = hosts.length > 3 ? `${hosts.length} hosts` : hosts.join(' ');
          // up to a minute while every member's agent converges: say so (stderr, so --json stays clean)
          const { waitView } = await import('../output/progress.js');
          const doing = verb === 'add' ? `adding ${who} to` : `removing ${who} from`;
          const then = waitUpMs ? ', then waiting for every tunnel to be up' : '';
          const view = waitView(`${doing} the mesh of ${opts.net}: pushing tunnels to its members${then}`);
          let reply;
          try {
            const rpc = verb === 'add' ? conn.client.meshAdd : conn.client.meshRemove;
            reply = await conn.call(rpc, req, 60_000 + waitUpMs);
          } catch (err) {
            // refused as asked (an unknown host or network): the error alone says it, no "failed" line before it
            const { exitCodeOf } = await import('../../common/errors.js');
            if (exitCodeOf(err) === 2) view.drop();
            else view.end('failed');
            throw err;
          }
          const { tunnels: got, ...res } = reply;
          const pending = res.hosts.filter((h) => h.error).length;
          const down = got.filter((t) => t.state !== 'up').length;
          view.end(
            (pending
              ? `${pending} of ${res.hosts.length} member(s) not converged yet`
              : `${res.hosts.length} member(s) converged`) +
              (got.length
                ? `; ${down ? `${down} of ${got.length} tunnel(s) not up` : `${got.length} tunnel(s) up`}`
                : ''),
          );
          // A member's error that waiting will not mend ends the wait (the controller's too): said on stderr.
          const hopeless = sayHopeless(res.hosts, opts.net);
          // A controller from before the wait in mesh add/rm answers with no tunnels: ask it as before.
          const again = waitUpMs && !got.length && !hopeless;
          const tunnels = waitUpMs ? (again ? await tunnelsOnceUp(conn, opts.net, waitUpMs) : got) : undefined;
          if (opts.json) {
            const item = (await import('../output/views.js')).withNetworkItem(res);
            printJson(tunnels ? { ...item, tunnels } : item);
          } else {
            const what = verb === 'add' ? `${who} joined` : `${who} left`;
            const is = `${hosts.length > 1 ? 'are' : 'is'} ${verb === 'add' ? 'already' : 'not'}`;
            const nothing = `nothing to do: ${who} ${is} in the mesh of ${opts.net}`;
            process.stdout.write(
              res.changed
                ? `${what} the mesh of ${opts.net} (${res.network?.mesh} key ${res.network?.meshKey}); ` +
                    `members: ${res.network?.meshHosts.join(' ') || '-'}\n`
                : `${nothing}\n`,
            );
            for (const h of res.hosts) process.stdout.write(`  ${h.host}: ${memberResult(h)}\n`);
            if (tunnels) process.stdout.write(tunnelsLine(tunnels, opts.net, hopeless ? 0 : waitUpMs));
          }
          process.exitCode = memberExitCode(res.hosts, tunnels);
          const members = res.network?.meshHosts ?? [];
          const left = res.hosts.map((h) => h.host).filter((h) => !members.includes(h));
          if (verb === 'rm' && res.changed) await noteCutOff(conn, opts.net, left);
        });
      });
  }
  mesh
    .command('apply')
    .summary('give this host its part of a mesh described in a file')
    .argument('<file>', 'JSON: { hosts: [...], networks: [...] }')
    .requiredOption('--host <name>', 'which host of the file this agent is')
    .option('--generation <n>', 'generation of this mesh (default: now in ms, so a later apply wins)')
    .option('--datapath <type>', 'datapath type for OVS bridges the mesh creates (netdev for user-space OVS)')
    .option('--json', 'print the result as JSON')
    .addHelpText(
      'after',
      `\nThe file:\n${FILE_EXAMPLE}\n\nExamples:\n  fleetnet mesh apply mesh.json --host h1\n  fleetnet --socket ` +
        `/run/fleetnet-lab/lab/h2/agent.sock mesh apply mesh.json --host h2 --datapath netdev`,
    )
    .action(
      async (
        file: string,
        opts: { host: string; generation?: string; datapath?: string; json?: boolean },
        cmd: Command,
      ) => {
        const { readMeshFile } = await import('../../common/mesh/mesh-file.js');
        const spec = readMeshFile(file);
        const generation = opts.generation === undefined ? Date.now() : Number(opts.generation);
        if (!Number.isSafeInteger(generation) || generation < 0)
          throw invalid(`--generation ${opts.generation} is not a whole number ≥ 0`);
        if (!spec.hosts.some((h) => h.name === opts.host))
          throw invalid(`host ${opts.host} is not in ${file}`, `one of: ${spec.hosts.map((h) => h.name).join(', ')}`);
        const { planForHost } = await import('../../common/mesh/plan.js');
        const { agentMeshSpec } = await import('../../common/mesh/to-agent.js');
        const plan = planForHost(opts.host, spec.hosts, spec.networks);
        const { connectAgent } = await import('../client/agent.js');
        const conn = connectAgent(cmd.optsWithGlobals().socket as string | undefined);
        try {
          const res = await conn.call(
            conn.client.applyMesh,
            agentMeshSpec(plan, generation, opts.datapath ? { datapathType: opts.datapath } : {}),
          );
          if (opts.json) printJson(res);
          else {
            process.stdout.write(
              `mesh generation ${res.generation} on ${opts.host}: ${res.added} added, ${res.removed} ` +
                `removed, ${res.kept} kept (${res.changes} changes)\n`,
            );
            for (const e of res.errors)
              process.stderr.write(`fleetnet: network ${e.network} not converged: ${e.message}\n`);
          }
          if (res.errors.length) process.exitCode = 1;
        } finally {
          conn.close();
        }
      },
    );
}

type FleetTunnel = { host: string; peer: string; state: string };

/** `mesh add --wait`: the network's tunnels once every one is up, or as they are when the wait runs out. */
async function tunnelsOnceUp(conn: ControllerConn, net: string, waitUpMs: number): Promise<FleetTunnel[]> {
  const { waitView } = await import('../output/progress.js');
  const view = waitView(`waiting for every tunnel of ${net} to be up`);
  try {
    const res = await conn.call(conn.client.fleetMeshStatus, { network: net, waitUpMs }, waitUpMs + STATUS_SLACK_MS);
    const down = res.tunnels.filter((t) => t.state !== 'up').length;
    view.end(down ? `${down} of ${res.tunnels.length} not up` : `${res.tunnels.length} up`);
    return res.tunnels;
  } catch (err) {
    view.end('failed');
    throw err;
  }
}

/** The tunnels after --wait; waitUpMs 0: the wait stopped at a member's error that waiting will not mend. */
function tunnelsLine(ts: FleetTunnel[], net: string, waitUpMs: number): string {
  const down = ts.filter((t) => t.state !== 'up');
  if (!down.length) return `every tunnel of ${net} is up (${ts.length})\n`;
  const list = down.map((t) => `${t.host}>${t.peer || '?'} ${t.state}`).join(', ');
  const when = waitUpMs ? `after ${waitUpMs / 1000} s` : '(no wait: an error that waiting will not mend)';
  return `${down.length} of ${ts.length} tunnel(s) of ${net} not up ${when}: ${list}\n`;
}

/**
 * mesh rm: the network's attachments left on a host that left its mesh stay as they are, but reach no container on
 * another host any more (its tunnels are gone). Said on stderr, with the ways back; the removal stands either way.
 */
async function noteCutOff(conn: ControllerConn, net: string, left: string[]): Promise<void> {
  if (!left.length) return;
  const { lsEntries } = await import('./fleet-ls.js');
  const all = await lsEntries(conn, { host: '', network: net, container: '' }).catch(() => []);
  for (const host of left) {
    const here = all
      .filter((a) => a.host === host)
      .sort((a, b) => a.container.localeCompare(b.container) || a.ifname.localeCompare(b.ifname));
    if (!here.length) continue;
    const some = here.slice(0, 5).map((a) => `${a.container} ${a.ifname}`);
    process.stderr.write(
      `fleetnet: ${host} left the mesh of ${net} with ${here.length} attachment(s) on ${net} still there ` +
        `(${some.join(', ')}${here.length > some.length ? ', …' : ''}): they reach no container on another host now` +
        `\n  join it again: fleetnet mesh add ${host} --net ${net}` +
        `\n  or detach ${here.length > 1 ? 'each' : 'it'}: fleetnet detach --host ${host} ${detachArgs(here[0]!)}\n`,
    );
  }
}

const detachArgs = (a: { container: string; ifname: string }) =>
  a.ifname === 'eth1' ? a.container : `${a.container} -i ${a.ifname}`;

/** One member's line: what its agent did, or that the controller owning the host pushes it (several controllers). */
function memberResult(h: { error: string; added: number; removed: number; generation: number }): string {
  if (h.error) return `not converged: ${h.error}`;
  if (!h.generation) return 'pushed by the controller that owns this host (see: fleetnet mesh status)';
  return `+${h.added} -${h.removed} tunnel(s), generation ${h.generation}`;
}
