// fleetnet host add|ls|rm: the hosts of the fleet, each a running agent the controller can reach.
import type { Command } from 'commander';
import { FleetnetError, invalid } from '../../common/errors.js';
import { checkHostInput, parseHostName } from '../../common/host-spec.js';
import type { ControllerConn } from '../client/controller.js';
import type { MeshHostResult } from '../../proto/gen/fleetnet/v1/controller.js';
import {
  addPurgeOptions,
  addSshHostAddOptions,
  enrollCommands,
  purgeHost,
  SSH_ADD_EXAMPLES,
  sshHostAdd,
  wantsSsh,
} from './host-bootstrap.js';
import { addOutputOptions, HOSTS_FORMAT_HELP, outputOf, type OutputSpec } from '../output/format.js';
import { printJson } from '../output/table.js';

const EXAMPLES = `
Examples:
  fleetnet host add h2 --addr 10.99.0.12           # the agent runs with --listen 10.99.0.12:7441
  fleetnet host add h3 --addr 10.99.0.13:7500
  fleetnet host ls
  fleetnet host rm h3                              # refused while h3 has attachments (--force forgets them)`;

export async function printHosts(cmd: Command, spec: OutputSpec): Promise<void> {
  const [{ withController }, { render }, { hostItem, hostsView }] = await Promise.all([
    import('../client/controller.js'),
    import('../output/render.js'),
    import('../output/views.js'),
  ]);
  await withController(cmd.optsWithGlobals(), 'host ls', async (conn) => {
    const items = (await conn.call(conn.client.listHosts, {})).hosts.map(hostItem);
    await render(spec, { items }, hostsView(items));
  });
}

/** Every --join network exists and has a mesh, or nothing is done (exit 2): checked before anything is made. */
async function checkMeshes(conn: ControllerConn, nets: string[]): Promise<void> {
  const all = (await conn.call(conn.client.listNetworks, {})).networks;
  const have = new Map(all.map((n) => [n.name, n]));
  const unknown = [...new Set(nets.filter((n) => !have.has(n)))];
  if (unknown.length) {
    const meshed = all.filter((n) => n.mesh).map((n) => n.name);
    const some = meshed.length > 10 ? [...meshed.slice(0, 10), '…'] : meshed;
    throw invalid(
      `--join ${unknown.join(', ')}: no network named ${unknown.join(', ')}`,
      (meshed.length
        ? `the networks with a mesh: ${some.join(', ')}`
        : 'no network has a mesh yet: fleetnet net create NAME --subnet CIDR --mesh gre|vxlan') +
        " ('fleetnet nets' lists every network)",
    );
  }
  const flat = nets.find((n) => !have.get(n)!.mesh);
  if (flat) throw invalid(`--join ${flat}: network ${flat} has no mesh`, `create it with --mesh gre|vxlan`);
}

/**
 * `host add --join N`: the new host joins each network's mesh. Returns every member's result on each network, for
 * mesh add's exit code rule (memberExitCode): 3 while an agent has not converged, 1 or 2 for an error that waiting
 * will not mend (said on stderr), which leaves the host registered and in the mesh, as mesh add does.
 */
async function joinMeshes(
  conn: ControllerConn,
  host: string,
  nets: string[],
  json: boolean,
  added?: unknown,
): Promise<MeshHostResult[]> {
  const { sayHopeless } = await import('./mesh.js');
  const joined = [];
  for (const network of nets) {
    const { tunnels: _none, ...res } = await conn.call(
      conn.client.meshAdd,
      { host, network, hosts: [], waitUpMs: 0 },
      60_000,
    );
    joined.push(res);
    if (!json) {
      process.stdout.write(
        `  joined the mesh of ${network} (${res.network?.mesh} key ${res.network?.meshKey}); ` +
          `members: ${res.network?.meshHosts.join(' ') || '-'}\n`,
      );
      for (const h of res.hosts)
        process.stdout.write(
          `    ${h.host}: ${h.error ? `not converged: ${h.error}` : `+${h.added} -${h.removed} tunnel(s)`}\n`,
        );
    }
    sayHopeless(res.hosts, network);
  }
  const { withNetworkItem } = await import('../output/views.js');
  if (json && nets.length) printJson({ host: added, joined: joined.map(withNetworkItem) });
  return joined.flatMap((r) => r.hosts);
}

/**
 * `host add --addr` of an agent that answers but was never enrolled (started by hand without a join
 * token), or answers with a certificate that is revoked (its host was removed): every order would
 * stay pending. Refused before anything is recorded, with what to run.
 */
export async function refuseUnusable(
  conn: Pick<ControllerConn, 'call' | 'addr'>,
  name: string,
  addr: string,
): Promise<void> {
  const [{ ADMIN }, { ProbeAgentReply_State: State }] = await Promise.all([
    import('../client/admin.js'),
    import('../../proto/gen/fleetnet/v1/admin.js'),
  ]);
  const probe = await conn.call(ADMIN.probeAgent, { hostId: name, agentAddr: addr });
  if (probe.state !== State.NOT_ENROLLED && probe.state !== State.REVOKED) return;
  const revoked = probe.state === State.REVOKED;
  const run = [
    `fleetnet host token ${name} --listen ${addr} --out ./${name}-join        # here: a single-use join token`,
    `# on ${name}: ` +
      (revoked ? 'stop its agent, delete its revoked certificate (rm -r /var/lib/fleetnet/agent/tls), ' : '') +
      `copy ./${name}-join/ca.crt and ./${name}-join/join-token to /etc/fleetnet/agent/, ` +
      (revoked ? 'start its agent as' : 'restart its agent as'),
    enrollCommands(name, addr, conn.addr).join(' '),
    `fleetnet host add ${name} --addr ${addr}        # here, again`,
    ...(revoked
      ? [`# installed by host add --ssh: fleetnet host rm ${name} --purge --ssh USER@ADDR, then host add --ssh again`]
      : []),
  ];
  const what = revoked
    ? `the agent at ${addr} ${probe.detail} (its host was removed, or the certificate replaced)`
    : `the agent at ${addr} answers but is not enrolled with this controller (it was started without a join token)`;
  throw new FleetnetError('conflict', `${what}: nothing was recorded`, {
    hint: `enroll it${revoked ? ' again, with a new join token' : ''}, then add it:\n    ${run.join('\n    ')}`,
  });
}

interface RmOpts {
  force?: boolean;
  purge?: boolean;
  ssh?: string;
  json?: boolean;
}

export function register(program: Command): void {
  const host = program.command('host').summary('register, list and remove fleet hosts').addHelpText('after', EXAMPLES);
  addSshHostAddOptions(host.command('add'))
    .summary('register a running agent (--addr), or bootstrap one over SSH (--ssh, --inventory)')
    .argument('[name]', "the host's name in the fleet: lower-case letters, digits, - and . (a DNS name)")
    .option('--addr <ip[:port]>', "the agent's TCP endpoint (its --listen), default port 7441")
    .option('--underlay <ipv4>', "the host's underlay IPv4 (default: the --addr IP); MACs carry its last three octets")
    .option(
      '--join <net>',
      "then put the host into this network's mesh (repeatable): one new tunnel on each member",
      (v: string, acc: string[]) => [...acc, v],
      [] as string[],
    )
    .option('--json', 'print JSON')
    .addHelpText('after', EXAMPLES)
    .addHelpText('after', SSH_ADD_EXAMPLES)
    .action(
      async (
        name: string | undefined,
        opts: { addr: string; underlay?: string; json?: boolean; join: string[] } & Record<string, unknown>,
        cmd: Command,
      ) => {
        const g = cmd.optsWithGlobals();
        if (wantsSsh(opts)) {
          // SSH from here; the controller issues the token, sees the agent enroll, and records the host
          const joined: MeshHostResult[] = [];
          const code = await sshHostAdd(name, g, {
            // refused before any join token is issued or any host touched
            ...(opts.join.length ? { check: (conn: ControllerConn) => checkMeshes(conn, opts.join) } : {}),
            // A member's mesh error is no reason to undo the install: the host is recorded, the exit code says it.
            onRegistered: async (h, conn) => void joined.push(...(await joinMeshes(conn, h, opts.join, false))),
          });
          const { memberExitCode } = await import('./mesh.js');
          process.exitCode = code || memberExitCode(joined);
          return;
        }
        if (!name || !opts.addr)
          throw invalid(
            'host add needs NAME and --addr IP[:PORT] (or --ssh USER@ADDR / --inventory FILE)',
            'e.g. fleetnet host add h2 --addr 10.99.0.12',
          );
        // The controller's own check, here first: bad input exits 2 whether or not a controller answers.
        checkHostInput({ name, agentAddr: opts.addr, underlayIp: opts.underlay ?? '' });
        const { withController } = await import('../client/controller.js');
        await withController(g, 'host add', async (conn) => {
          if (opts.join.length) await checkMeshes(conn, opts.join); // refused before the host is registered
          await refuseUnusable(conn, name, opts.addr);
          const h = await conn.call(conn.client.addHost, {
            name,
            agentAddr: opts.addr,
            underlayIp: opts.underlay ?? '',
          });
          if (opts.json && !opts.join.length) printJson(h);
          else if (!opts.json) process.stdout.write(`host ${h.name}: agent ${h.agentAddr}, underlay ${h.underlayIp}\n`);
          const joined = await joinMeshes(conn, h.name, opts.join, Boolean(opts.json), h);
          // recorded either way; 3: the agents that did not answer converge when they return
          const { memberExitCode } = await import('./mesh.js');
          process.exitCode = memberExitCode(joined);
        });
      },
    );
  addOutputOptions(host.command('ls'), { ids: 'host names' })
    .summary('list fleet hosts')
    .addHelpText('after', HOSTS_FORMAT_HELP)
    .action(async (_opts: unknown, cmd: Command) => printHosts(cmd, await outputOf(cmd)));
  addPurgeOptions(host.command('rm'))
    .summary('remove a host from the fleet; its certificates are revoked (--purge: also uninstall it over SSH)')
    .argument('<name>')
    .option('--force', 'also forget its attachments (its agent is not asked to remove them)')
    .option('--json', 'print the result as JSON')
    .action(async (name: string, opts: RmOpts, cmd: Command) => {
      const [{ withController }, { ADMIN }] = await Promise.all([
        import('../client/controller.js'),
        import('../client/admin.js'),
      ]);
      const g = cmd.optsWithGlobals();
      parseHostName(name);
      if (opts.purge && !opts.ssh) throw invalid('--purge needs --ssh USER@ADDR', 'say how to reach the host');
      await withController(g, 'host rm', async (conn) => {
        // not registered (an SSH bootstrap that failed late, a token never used): its certificates still go
        const removing = conn.call(conn.client.removeHost, { name, force: Boolean(opts.force) });
        const res = await removing.catch((err: unknown) => {
          if (err instanceof FleetnetError && err.kind === 'not_found' && opts.purge) return { removed: false };
          throw err;
        });
        if (opts.purge) await purgeHost(name, opts);
        const revoke = { hostId: name, reason: 'host rm', issuedSinceUnixMs: 0, forget: true };
        const rev = await conn.call(ADMIN.revokeHostCerts, revoke);
        if (opts.json) printJson({ host: name, ...res, revoked: rev.serials });
        else {
          process.stdout.write(`host ${name} removed\n`);
          if (rev.hasCa) process.stdout.write(`${name}: ${rev.serials.length} certificate(s) revoked\n`);
        }
      });
    });
}
