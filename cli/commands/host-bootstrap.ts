// fleetnet host add --ssh / --inventory, host upgrade, host token, host rm --purge,
// host rotate-cert, controller cli-cert and cli-revoke. SSH runs here, with the operator's own keys and
// known_hosts (Ansible-style); whatever needs the fleet CA is an Admin call to the controller,
// authorized by this CLI's certificate. Nothing here reads the CA key: it works from any machine
// with a CLI credential. Registers under `host` (host.ts defines add and rm with these helpers).
import type { Command } from 'commander';
import { accessSync, constants } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { invalid } from '../../common/errors.js';
import { parseDuration } from '../../common/flag-values.js';
import type { OnRegistered } from '../client/admin.js';
import type { ControllerConn } from '../client/controller.js';

interface SshOpts {
  ssh?: string;
  port?: string;
  identity?: string;
  knownHosts?: string;
  acceptNew?: boolean;
}
type Opts = Record<string, string | boolean | undefined>;

function sshOptions(cmd: Command): Command {
  return cmd
    .option('--ssh <user@addr>', 'reach the host over SSH (e.g. root@10.99.0.13)')
    .option('--port <n>', 'SSH port', '22')
    .option('--identity <file>', 'SSH private key (default: your ssh-agent)')
    .option('--known-hosts <file>', 'known_hosts to verify the host key against (default ~/.ssh/known_hosts)')
    .option('--accept-new', 'pin the host key of a host seen for the first time (prints its fingerprint)');
}

type Over = { addr?: string; user?: string; port?: number; identity?: string; identityFrom?: string };

async function sshTarget(o: SshOpts, over: Over = {}) {
  const { parseSshTarget } = await import('../bootstrap/ssh-target.js');
  const t = over.addr ? { user: over.user ?? 'root', addr: over.addr } : parseSshTarget(o.ssh ?? '');
  const port = over.port ?? Number(o.port ?? 22);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalid(`--port ${o.port} is not a TCP port`, 'give 1-65535');
  }
  const identity = over.identity ?? o.identity;
  // read when the host's turn comes: a key that is not there is found now, before any host is touched
  if (identity) readable(identity, over.identity ? (over.identityFrom ?? 'the SSH key') : '--identity');
  const knownHostsFile = o.knownHosts ?? join(homedir(), '.ssh', 'known_hosts');
  const acceptNew = Boolean(o.acceptNew);
  return { ...t, port, ...(identity ? { identityFile: identity } : {}), knownHostsFile, acceptNew };
}

function readable(file: string, what: string): void {
  try {
    accessSync(file, constants.R_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw invalid(
      `${what}: ${file} cannot be read (${code})`,
      'give the path of a private key file this user can read',
    );
  }
}

export const SSH_ADD_EXAMPLES = `
Examples (over SSH, from any machine with a CLI credential and SSH access to the hosts):
  fleetnet host add h3 --ssh root@10.99.0.13 --accept-new --advertise 10.99.0.1:7440
  fleetnet host add h4 --ssh admin@10.99.0.14 --port 2222 --identity ~/.ssh/fleet --known-hosts ./known_hosts
  fleetnet host add h5 --ssh root@10.99.0.15 --agent-config h5-agent.yaml   # e.g. ovs-datapath: netdev
  fleetnet host add --inventory hosts.yaml --advertise 10.99.0.1:7440

  fleetnet host add --inventory hosts.ini --limit 'dc1:!h3' --list-hosts   # what it would act on; changes nothing

The inventory is an Ansible inventory, INI or YAML (.yml/.yaml), resolved as Ansible resolves it
(groups, children, ranges like web[1:3], group and host vars). fleetnet reads ansible_host,
ansible_user (default root), ansible_port (default 22), ansible_ssh_private_key_file, and its own
fleetnet_listen, fleetnet_ovs, fleetnet_controller, fleetnet_agent_config. hosts.ini:
  [fleet]
  h1 ansible_host=10.99.0.11
  h[2:3] ansible_port=2222
  [fleet:vars]
  ansible_user=root
  ansible_ssh_private_key_file=/root/.ssh/fleet`;

/** Options shared by host add --ssh and host upgrade: the hosts, and how many at once. */
function inventoryOptions(cmd: Command): Command {
  return sshOptions(cmd)
    .option('--inventory <file>', 'every host of an Ansible inventory (INI or YAML), in parallel')
    .option('--limit <pattern>', 'only these hosts of the inventory (Ansible pattern: web:&dc1, all:!h3, web*, ~REGEX)')
    .option('--list-hosts', 'print the inventory hosts it would act on (address, user, port, key) and change nothing')
    .option('--ovs', 'a network on this host uses Open vSwitch: require it')
    .option('--parallel <n>', 'hosts at once with --inventory', '8');
}

/** The SSH-bootstrap options of `host add`. */
export function addSshHostAddOptions(cmd: Command): Command {
  return inventoryOptions(cmd)
    .option('--advertise <addr:port>', 'the controller address the agents enroll with (default: the one this CLI uses)')
    .option('--listen <addr:port>', 'agent TCP address (default: the SSH address, port 7441)')
    .option(
      '--agent-config <file>',
      "the agent's settings file (YAML, as agent run reads it): checked here, installed as /etc/fleetnet/agent.yaml",
    )
    .option('--token-ttl <duration>', 'join token lifetime (default: the controller setting, 15m)');
}

/** True when `host add` was asked to bootstrap over SSH rather than to register a running agent. */
export const wantsSsh = (o: Record<string, unknown>) => Boolean(o.ssh || o.inventory);

const controllerOf = async (g: Opts, what: string) => {
  const { requireController } = await import('../client/controller-address.js');
  return (await requireController(g, what)).addr;
};

/** What `host add --join` adds to a bootstrap: a check before anything starts, and what follows each registration. */
export interface SshAddHooks {
  /** Throws (exit 2) when the bootstrap must not start: before any join token is issued or host touched. */
  check?: (conn: ControllerConn) => Promise<void>;
  /** What follows each host's registration (host add --join puts it into meshes); awaited, a throw undoes it all. */
  onRegistered?: OnRegistered;
}

/** `host add --ssh/--inventory`; returns the exit code. */
export async function sshHostAdd(name: string | undefined, g: Opts, hooks: SshAddHooks = {}): Promise<number> {
  const [{ hostAddRequests, runHostAdd }, { chooseController }] = await Promise.all([
    import('./host-add-run.js'),
    import('../client/controller-address.js'),
  ]);
  const chosen = await chooseController(g);
  const controllerAddr = () => {
    if (chosen) return chosen.addr;
    throw invalid(
      'host add needs a controller, and the agents an address to enroll with',
      'give --controller ADDR:PORT (or FLEETNET_CONTROLLER, or controller: in ~/.config/fleetnet/config.yaml)',
    );
  };
  // every input is checked (exit 2) before anything connects anywhere; --list-hosts needs no controller
  const requests = await hostAddRequests(name, g, sshTarget, controllerAddr);
  if (!requests) return 0;
  return withAdmin(g, 'host add', async (conn, a) => {
    await hooks.check?.(conn);
    return runHostAdd(requests, g, a.fleetAuthority(conn, hooks.onRegistered));
  });
}

/** The options of `host rm` for uninstalling over SSH. */
export function addPurgeOptions(cmd: Command): Command {
  return sshOptions(cmd).option(
    '--purge',
    'also stop the agent and delete everything fleetnet installed on the host (needs --ssh)',
  );
}

/** `host rm --purge`: uninstalls the agent over SSH (the controller revokes its certificates). */
export async function purgeHost(name: string, o: SshOpts): Promise<void> {
  if (!o.ssh) throw invalid('--purge needs --ssh USER@ADDR', 'say how to reach the host');
  const [{ SshSession }, { gatherFacts }, { uninstall }, { parseHostId }] = await Promise.all([
    import('../bootstrap/ssh-session.js'),
    import('../bootstrap/facts.js'),
    import('../bootstrap/install.js'),
    import('../../common/pki/identity.js'),
  ]);
  const id = parseHostId(name);
  const s = await SshSession.connect(await sshTarget(o));
  try {
    await uninstall(s, (await gatherFacts(s, [])).systemd);
  } finally {
    s.dispose();
  }
  process.stdout.write(`${id}: agent stopped and uninstalled\n`);
}

type AdminClient = typeof import('../client/admin.js');

/** fn with a connection to the controller and the Admin client at hand (both loaded only now). */
async function withAdmin<T>(g: Opts, what: string, fn: (c: ControllerConn, a: AdminClient) => Promise<T>): Promise<T> {
  const [{ withController }, admin] = await Promise.all([
    import('../client/controller.js'),
    import('../client/admin.js'),
  ]);
  return withController(g, what, (conn) => fn(conn, admin));
}

/** Where an installed agent keeps the CA and its join token. */
const AGENT_FILES = { ca: '/etc/fleetnet/agent/ca.crt', token: '/etc/fleetnet/agent/join-token' };

const printJson = (v: unknown) => process.stdout.write(JSON.stringify(v, null, 2) + '\n');
const iso = (ms: number) => new Date(ms).toISOString();

/** What to run on a host to enroll an agent started by hand (or by Ansible, cloud-init). */
export function enrollCommands(host: string, listen: string, controller: string, files = AGENT_FILES): string[] {
  return [
    'fleetnet',
    'agent',
    'run',
    '--listen',
    listen,
    '--host-name',
    host,
    '--controller',
    controller,
    '--ca-file',
    files.ca,
    '--join-token-file',
    files.token,
  ];
}

interface TokenOpts {
  ttl?: string;
  listen?: string;
  advertise?: string;
  out?: string;
  json?: boolean;
}

async function hostToken(name: string, o: TokenOpts, g: Opts): Promise<void> {
  const { parseHostId } = await import('../../common/pki/identity.js');
  const host = parseHostId(name);
  const ttlMs = o.ttl === undefined ? 0 : parseDuration(o.ttl, '--ttl');
  const [{ agentAddrFlag }, { parseControllerList }] = await Promise.all([
    import('../../common/host-spec.js'),
    import('../../common/rpc/controller-addresses.js'),
  ]);
  const listen = o.listen === undefined ? 'ADDR:7441' : agentAddrFlag('--listen', o.listen);
  if (o.advertise) parseControllerList(o.advertise, '--advertise');
  const controller = o.advertise ?? (await controllerOf(g, 'host token'));
  const t = await withAdmin(g, 'host token', (conn, a) => conn.call(a.ADMIN.hostToken, { hostId: host, ttlMs }));
  const files = AGENT_FILES;
  if (o.out) {
    const { writeSecureFile } = await import('../../common/pki/keys.js');
    writeSecureFile(join(o.out, 'join-token'), t.token + '\n', 0o600);
    writeSecureFile(join(o.out, 'ca.crt'), t.caPem, 0o644);
  }
  const argv = enrollCommands(host, listen, controller, files);
  if (o.json) {
    const { token, expiresAtUnixMs, caPem } = t;
    printJson({ host, token, expiresAtUnixMs, caPem, controller, agentRun: argv, ...(o.out ? { out: o.out } : {}) });
    return;
  }
  const w = (s: string) => process.stdout.write(s + '\n');
  w(`join token for ${host} (single use, valid until ${iso(t.expiresAtUnixMs)}):`);
  w(`  ${t.token}`);
  w('');
  w(`On ${host}, as root:`);
  w('  install -d -m 0700 /etc/fleetnet/agent');
  if (o.out) w(`  # copy ${join(o.out, 'ca.crt')} to ${files.ca}, ${join(o.out, 'join-token')} to ${files.token}`);
  else {
    w(`  (umask 077; echo '${t.token}' > ${files.token})`);
    w(`  cat > ${files.ca} <<'EOF'\n${t.caPem.trimEnd()}\nEOF`);
  }
  w(`  ${argv.join(' ')}`);
  w('Then, here:');
  w(`  fleetnet host add ${host} --addr ${listen}`);
}

async function rotateCert(name: string, o: { addr?: string; json?: boolean }, g: Opts): Promise<void> {
  const { parseHostId } = await import('../../common/pki/identity.js');
  const host = parseHostId(name);
  const req = { hostId: host, agentAddr: o.addr ?? '' };
  const r = await withAdmin(g, 'host rotate-cert', (conn, a) => conn.call(a.ADMIN.rotateHostCert, req, 60_000));
  if (o.json) printJson({ host, oldSerial: r.oldSerial, newSerial: r.newSerial, notAfterUnixMs: r.notAfterUnixMs });
  else
    process.stdout.write(
      `${host}: certificate ${r.newSerial} in use until ${iso(r.notAfterUnixMs)}; ` + `${r.oldSerial} revoked\n`,
    );
}

async function hostUpgrade(name: string | undefined, g: Opts): Promise<number> {
  const { upgradeRequests, runHostUpgrade } = await import('./host-add-run.js');
  const requests = await upgradeRequests(name, g, sshTarget);
  if (!requests) return 0;
  return withAdmin(g, 'host upgrade', (conn, a) => runHostUpgrade(requests, g, a.fleetAuthority(conn)));
}

/** `controller cli-cert USER --out DIR`: a key made here, its certificate signed by the controller. */
async function cliCert(user: string, o: { out: string; json?: boolean }, g: Opts): Promise<void> {
  const [{ parseCliUser }, { generateKeyPair, makeCsr, privateKeyPem, writeSecureFile }] = await Promise.all([
    import('../../common/pki/identity.js'),
    import('../../common/pki/keys.js'),
  ]);
  const name = parseCliUser(user);
  const keys = await generateKeyPair();
  const csrPem = await makeCsr(keys, name);
  const req = { user: name, csrPem };
  const c = await withAdmin(g, 'controller cli-cert', (conn, a) => conn.call(a.ADMIN.issueClientCert, req));
  const files = { key: join(o.out, 'cli.key'), cert: join(o.out, 'cli.crt'), ca: join(o.out, 'ca.crt') };
  writeSecureFile(files.key, await privateKeyPem(keys.privateKey), 0o600);
  writeSecureFile(files.cert, c.certPem, 0o644);
  writeSecureFile(files.ca, c.caPem, 0o644);
  if (o.json) printJson({ user: name, serial: c.serial, notAfterUnixMs: c.notAfterUnixMs, ...files });
  else {
    process.stdout.write(
      `CLI credential for ${name} in ${o.out} (serial ${c.serial}, until ${iso(c.notAfterUnixMs)}); ` +
        `use it from ~/.config/fleetnet/ or with FLEETNET_TLS_DIR=${o.out}\n`,
    );
  }
}

/** `controller cli-revoke USER [--serial S]`: every credential issued to USER (or one) revoked on every controller. */
async function cliRevoke(user: string, o: { serial?: string; reason?: string; json?: boolean }, g: Opts) {
  const { parseCliUser, parseSerial } = await import('../../common/pki/identity.js');
  const req = { user: parseCliUser(user), serial: o.serial ? parseSerial(o.serial) : '', reason: o.reason ?? '' };
  const r = await withAdmin(g, 'controller cli-revoke', (conn, a) => conn.call(a.ADMIN.revokeClientCerts, req));
  if (o.json) printJson({ user: req.user, revoked: r.serials, unrecorded: r.unrecorded });
  else {
    const why = r.unrecorded ? ' (on no record: taken as a credential made by an older fleetnet, which kept none)' : '';
    process.stdout.write(`${req.user}: CLI credential(s) revoked: ${r.serials.join(' ')}${why}\n`);
  }
}

export function register(program: Command): void {
  const host =
    program.commands.find((c) => c.name() === 'host') ?? program.command('host').summary('hosts of the fleet');

  host
    .command('rotate-cert')
    .summary("give a host's agent a new key and certificate; the old one is revoked")
    .argument('<name>', 'host id')
    .option('--addr <addr:port>', "the agent's TCP address (default: the one the host is registered with)")
    .option('--json', 'print the result as JSON')
    .action((name: string, o: { addr?: string; json?: boolean }, cmd: Command) =>
      rotateCert(name, o, cmd.optsWithGlobals()),
    );

  host
    .command('token')
    .summary('a single-use join token for an agent started by hand (or by Ansible, cloud-init)')
    .argument('<name>', "the host id the token is bound to (the agent's --host-name)")
    .option('--ttl <duration>', 'how long the token is valid (default: the controller setting, 15m)')
    .option('--listen <addr:port>', "the agent's TCP address, for the printed commands")
    .option('--advertise <addr:port>', 'the controller address the agent enrolls with (default: the one this CLI uses)')
    .option('--out <dir>', 'also write join-token (0600) and ca.crt there, to copy to the host')
    .option('--json', 'print token, expiry, CA and the agent command as JSON')
    .addHelpText(
      'after',
      `
Example:
  fleetnet host token h5 --ttl 1h --listen 10.99.0.15:7441 --out ./h5
  # on h5: put ./h5/ca.crt and ./h5/join-token in /etc/fleetnet/agent/, then
  fleetnet agent run --listen 10.99.0.15:7441 --host-name h5 --controller 10.99.0.1:7440 \\
    --ca-file /etc/fleetnet/agent/ca.crt --join-token-file /etc/fleetnet/agent/join-token
  fleetnet host add h5 --addr 10.99.0.15:7441
A token works once, for that host only, until it expires; the agent refuses to start (exit 2)
naming which of these went wrong.`,
    )
    .action((name: string, o: TokenOpts, cmd: Command) => hostToken(name, o, cmd.optsWithGlobals()));

  inventoryOptions(host.command('upgrade'))
    .summary("replace a host's agent with this CLI's version over SSH; settings, certificate and attachments stay")
    .argument('[name]', 'host id')
    .option('--json', 'print the results as JSON')
    .addHelpText(
      'after',
      `
Examples:
  fleetnet host upgrade h3 --ssh root@10.99.0.13
  fleetnet host upgrade --inventory hosts.yaml --parallel 4`,
    )
    .action(async (name: string | undefined, _o: unknown, cmd: Command) => {
      process.exitCode = await hostUpgrade(name, cmd.optsWithGlobals());
    });

  const controller =
    program.commands.find((c) => c.name() === 'controller') ??
    program.command('controller').summary('the fleet controller');
  controller
    .command('cli-cert')
    .summary('a CLI credential (client certificate) for a user, signed by the controller')
    .argument('<user>', 'name the certificate carries')
    .requiredOption('--out <dir>', 'where to write ca.crt, cli.crt and cli.key (0600), e.g. ~/.config/fleetnet')
    .option('--json', 'print the written files as JSON')
    .addHelpText(
      'after',
      '\nThe key is made here and never leaves this machine; the controller signs its certificate\n' +
        '(this CLI needs a credential already, e.g. the admin one `controller init` made).',
    )
    .action((user: string, o: { out: string; json?: boolean }, cmd: Command) =>
      cliCert(user, o, cmd.optsWithGlobals()),
    );
  controller
    .command('cli-revoke')
    .summary("revoke a user's CLI credentials (every one issued to the user, or --serial): refused from then on")
    .argument('<user>', 'name the certificates carry')
    .option('--serial <hex>', 'only this credential (cli-cert printed its serial)')
    .option('--reason <text>', 'kept with the revocation')
    .option('--json', 'print the revoked serials as JSON')
    .addHelpText(
      'after',
      '\nEvery controller refuses the revoked credentials at once (on etcd too). The credential this CLI\n' +
        'uses is never revoked by itself: revoke it with another one.\n' +
        'Example:\n  fleetnet controller cli-revoke alice --reason "laptop lost"',
    )
    .action((user: string, o: { serial?: string; reason?: string; json?: boolean }, cmd: Command) =>
      cliRevoke(user, o, cmd.optsWithGlobals()),
    );
}
