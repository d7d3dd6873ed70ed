// fleetnet host add --ssh / --inventory, host rm --purge, host rotate-cert: hosts over SSH and
// their certificates (issue 7). Registers under `host`, creating it if no other module has.
import type { Command } from 'commander';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { invalid } from '../../common/errors.js';
import type { HostRegistry } from '../../controller/bootstrap/bootstrap.js';

const DEFAULT_DIR = '/etc/fleetnet/controller';

interface SshOpts {
  ssh?: string;
  port?: string;
  identity?: string;
  knownHosts?: string;
  acceptNew?: boolean;
  controllerDir: string;
}

function sshOptions(cmd: Command): Command {
  return cmd
    .option('--ssh <user@addr>', 'reach the host over SSH (e.g. root@10.99.0.13)')
    .option('--port <n>', 'SSH port', '22')
    .option('--identity <file>', 'SSH private key (default: your ssh-agent)')
    .option('--known-hosts <file>', 'known_hosts to verify the host key against (default ~/.ssh/known_hosts)')
    .option('--accept-new', 'pin the host key of a host seen for the first time (prints its fingerprint)')
    .option('--controller-dir <dir>', 'the controller\'s trust folder', DEFAULT_DIR);
}

async function sshTarget(o: SshOpts, over: { addr?: string; user?: string; port?: number; identity?: string } = {}) {
  const { parseSshTarget } = await import('../../controller/bootstrap/ssh-session.js');
  const t = over.addr ? { user: over.user ?? 'root', addr: over.addr } : parseSshTarget(o.ssh ?? '');
  const port = over.port ?? Number(o.port ?? 22);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid(`--port ${o.port} is not a TCP port`, 'give 1-65535');
  const identity = over.identity ?? o.identity;
  return { ...t, port, ...(identity ? { identityFile: identity } : {}), knownHostsFile: o.knownHosts ?? join(homedir(), '.ssh', 'known_hosts'), acceptNew: Boolean(o.acceptNew) };
}

export const SSH_ADD_EXAMPLES = `
Examples (over SSH):
  fleetnet host add h3 --ssh root@10.99.0.13 --accept-new --advertise 10.99.0.1:7440
  fleetnet host add h4 --ssh admin@10.99.0.14 --port 2222 --identity ~/.ssh/fleet --known-hosts ./known_hosts
  fleetnet host add --inventory hosts.yaml --advertise 10.99.0.1:7440

  fleetnet host add --inventory hosts.ini --limit 'dc1:!h3' --list-hosts   # what it would act on; changes nothing

The inventory is an Ansible inventory, INI or YAML (.yml/.yaml), resolved as Ansible resolves it
(groups, children, ranges like web[1:3], group and host vars). fleetnet reads ansible_host,
ansible_user (default root), ansible_port (default 22), ansible_ssh_private_key_file, and its own
fleetnet_listen, fleetnet_ovs, fleetnet_controller. hosts.ini:
  [fleet]
  h1 ansible_host=10.99.0.11
  h[2:3] ansible_port=2222
  [fleet:vars]
  ansible_user=root
  ansible_ssh_private_key_file=/root/.ssh/fleet`;

/** The SSH-bootstrap options of `host add` (the controller's own `host add` takes them too). */
export function addSshHostAddOptions(cmd: Command): Command {
  return sshOptions(cmd)
    .option('--inventory <file>', 'bootstrap every host of an Ansible inventory (INI or YAML) in parallel')
    .option('--limit <pattern>', 'only these hosts of the inventory (Ansible pattern: web:&dc1, all:!h3, web*, ~REGEX)')
    .option('--list-hosts', 'print the inventory hosts it would act on (address, user, port, key) and change nothing')
    .option('--advertise <addr:port>', 'the controller address the agents enroll with and use (default: --controller / FLEETNET_CONTROLLER)')
    .option('--listen <addr:port>', 'agent TCP address (default: the SSH address, port 7441)')
    .option('--ovs', 'a network on this host uses Open vSwitch: require it')
    .option('--token-ttl <duration>', 'join token lifetime (default: the controller setting, 15m)')
    .option('--parallel <n>', 'hosts at once with --inventory', '8');
}

/** True when `host add` was asked to bootstrap over SSH rather than to register a running agent. */
export const wantsSsh = (o: Record<string, unknown>) => Boolean(o.ssh || o.inventory);

/** `host add --ssh/--inventory`; returns the exit code. registry: where new hosts are recorded (the controller). */
export async function sshHostAdd(name: string | undefined, o: Record<string, unknown>, registry?: HostRegistry): Promise<number> {
  const { runHostAdd } = await import('./host-add-run.js');
  return runHostAdd(name, o as SshOpts & Record<string, string | boolean | undefined>, sshTarget, registry);
}

/** The options of `host rm` for certificates and uninstalling (the controller's `host rm` takes them too). */
export function addPurgeOptions(cmd: Command): Command {
  return sshOptions(cmd).option('--purge', 'stop the agent and delete everything fleetnet installed on the host (needs --ssh)');
}

/** Uninstalls over SSH when --purge, then revokes every certificate of the host. */
export async function purgeAndRevoke(name: string, o: SshOpts & { purge?: boolean }): Promise<void> {
  if (o.purge && !o.ssh) throw invalid('--purge needs --ssh USER@ADDR', 'say how to reach the host');
  const [{ openTrust }, { revokeHost }, { parseHostId }] = await Promise.all([
    import('../../controller/pki/controller-dir.js'), import('../../controller/pki/enrollment-service.js'), import('../../common/pki/identity.js'),
  ]);
  const id = parseHostId(name);
  const trust = await openTrust(o.controllerDir);
  if (o.purge) {
    const [{ SshSession }, { gatherFacts }, { uninstall }] = await Promise.all([
      import('../../controller/bootstrap/ssh-session.js'), import('../../controller/bootstrap/facts.js'), import('../../controller/bootstrap/install.js'),
    ]);
    const s = await SshSession.connect(await sshTarget(o));
    try {
      await uninstall(s, (await gatherFacts(s, [])).systemd);
    } finally {
      s.dispose();
    }
    process.stdout.write(`${id}: agent stopped and uninstalled\n`);
  }
  const serials = revokeHost(trust, id, 'host rm');
  trust.issued.forget(id);
  process.stdout.write(`${id}: ${serials.length} certificate(s) revoked\n`);
}

export function register(program: Command): void {
  const host = program.commands.find((c) => c.name() === 'host') ?? program.command('host').summary('hosts of the fleet');
  const has = (n: string) => host.commands.some((c) => c.name() === n);
  // Where another module (the controller's host.ts) already defines add/rm, it calls the helpers above.
  if (!has('add')) {
    addSshHostAddOptions(host.command('add'))
      .summary('bootstrap a host over SSH: install, enroll and start its agent')
      .argument('[name]', 'host id (a DNS name: h3, web-1.dc2)')
      .option('--json', 'print the results as JSON')
      .addHelpText('after', SSH_ADD_EXAMPLES)
      .action(async (name: string | undefined, o: Record<string, unknown>) => {
        process.exitCode = await sshHostAdd(name, o);
      });
  }
  if (!has('rm')) {
    addPurgeOptions(host.command('rm'))
      .summary('remove a host: revoke its certificates; with --purge also uninstall its agent over SSH')
      .argument('<name>', 'host id')
      .action((name: string, o: SshOpts & { purge?: boolean }) => purgeAndRevoke(name, o));
  }

  host
    .command('rotate-cert')
    .summary('give a host\'s agent a new key and certificate; the old one is revoked')
    .argument('<name>', 'host id')
    .requiredOption('--addr <addr:port>', 'the agent\'s TCP address')
    .option('--controller-dir <dir>', 'the controller\'s trust folder', DEFAULT_DIR)
    .option('--json', 'print the result as JSON')
    .action(async (name: string, o: { addr: string; controllerDir: string; json?: boolean }) => {
      const [{ openTrust }, { rotateHostCert }] = await Promise.all([import('../../controller/pki/controller-dir.js'), import('../../controller/bootstrap/rotate.js')]);
      const r = await rotateHostCert(await openTrust(o.controllerDir), name, o.addr);
      if (o.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      else process.stdout.write(`${name}: certificate ${r.newSerial} in use until ${new Date(r.notAfterUnixMs).toISOString()}; ${r.oldSerial} revoked\n`);
    });

  const controller = program.commands.find((c) => c.name() === 'controller') ?? program.command('controller').summary('the fleet controller');
  controller
    .command('init')
    .summary('make the fleet CA, the controller\'s certificate and the first CLI credential')
    .option('--dir <dir>', 'trust folder (0700)', DEFAULT_DIR)
    .option('--token-ttl <duration>', 'join token lifetime', '15m')
    .option('--host-cert-validity <duration>', 'host certificate lifetime', '30d')
    .option('--cli-user <name>', 'name of the first CLI credential', 'admin')
    .option('--json', 'print the created paths as JSON')
    .addHelpText('after', '\nExample:\n  fleetnet controller init --dir /etc/fleetnet/controller --token-ttl 10m')
    .action(async (o: { dir: string; tokenTtl: string; hostCertValidity: string; cliUser: string; json?: boolean }) => {
      const [{ initControllerDir }, { parseDuration }, { parseHostId }] = await Promise.all([
        import('../../controller/pki/controller-dir.js'), import('../../controller/pki/settings.js'), import('../../common/pki/identity.js'),
      ]);
      const r = await initControllerDir(o.dir, {
        settings: { joinTokenTtlMs: parseDuration(o.tokenTtl), hostCertValidityMs: parseDuration(o.hostCertValidity) },
        cliUser: parseHostId(o.cliUser),
      });
      if (o.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      else process.stdout.write(`CA:              ${r.caCert}\ncontroller cert: ${r.controllerCert}\nCLI credential:  ${r.cliCert} (key ${r.cliKey}, 0600)\n`);
    });

  controller
    .command('cli-cert')
    .summary('issue a CLI credential (client certificate) for a user')
    .argument('<user>', 'name the certificate carries')
    .requiredOption('--out <dir>', 'where to write ca.crt, cli.crt and cli.key (0600), e.g. ~/.config/fleetnet')
    .option('--dir <dir>', 'the controller\'s trust folder', DEFAULT_DIR)
    .option('--json', 'print the written files as JSON')
    .action(async (user: string, o: { out: string; dir: string; json?: boolean }) => {
      const [{ openTrust }, { parseHostId }, { writeSecureFile }] = await Promise.all([
        import('../../controller/pki/controller-dir.js'), import('../../common/pki/identity.js'), import('../../common/pki/keys.js'),
      ]);
      const trust = await openTrust(o.dir);
      const c = await trust.ca.issueWithKey({ role: 'cli', name: parseHostId(user), validityMs: trust.settings.cliCertValidityMs });
      writeSecureFile(join(o.out, 'cli.key'), c.keyPem, 0o600);
      writeSecureFile(join(o.out, 'cli.crt'), c.certPem, 0o644);
      writeSecureFile(join(o.out, 'ca.crt'), trust.ca.certPem, 0o644);
      const written = { user, serial: c.serial, notAfterUnixMs: c.notAfterMs, key: join(o.out, 'cli.key'), cert: join(o.out, 'cli.crt'), ca: join(o.out, 'ca.crt') };
      if (o.json) process.stdout.write(JSON.stringify(written, null, 2) + '\n');
      else process.stdout.write(`CLI credential for ${user} in ${o.out} (serial ${c.serial}, until ${new Date(c.notAfterMs).toISOString()})\n`);
    });
}
