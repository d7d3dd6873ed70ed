// fleetnet controller run: the fleet's controller (state, IPAM, MACs, orders to agents).
import type { Command } from 'commander';
import { wholeNumber as int } from '../../common/flag-values.js';
import { nameProcess } from '../../common/process-title.js';

const EXAMPLES = `
Examples:
  fleetnet controller run                                   # 127.0.0.1:7440, /var/lib/fleetnet/state.db
  fleetnet controller run --listen 10.99.0.2:7440 --db /srv/fleetnet/state.db
  fleetnet controller run --listen 10.99.0.2:7440 \
    --etcd https://10.99.0.5:2379,https://10.99.0.6:2379,https://10.99.0.7:2379 \
    --etcd-ca /etc/fleetnet/etcd/ca.crt --etcd-cert /etc/fleetnet/etcd/client.crt \
    --etcd-key /etc/fleetnet/etcd/client.key
    # several controllers on one etcd serve one fleet (README: HA controllers on etcd)

Then point the CLI at it (--controller, FLEETNET_CONTROLLER, or ~/.config/fleetnet/config.yaml):
  echo 'controller: 10.99.0.2:7440' > ~/.config/fleetnet/config.yaml
  fleetnet host add h2 --addr 10.99.0.12
  fleetnet net create blue --subnet 10.1.1.0/24 --gateway 10.1.1.1
  fleetnet attach --host h2 web1 10.1.1.50/24

Settings file: /etc/fleetnet/controller.yaml (or --config FILE), keys named like the flags, e.g.
  listen: 10.99.0.2:7440
  db: /var/lib/fleetnet/state.db
  resync-ms: 10000             # also: backoff-min-ms, backoff-max-ms, attach-timeout-ms, max-wait-ms …
Flags given on the command line override the file. A mistake in the file (unknown key, wrong
type, bad YAML) stops the controller before it starts, naming the file, the line and the key (exit 2).`;

export function register(program: Command): void {
  const c = program.command('controller').summary('run the fleet controller');
  c.command('run')
    .summary('serve the fleet: hosts, networks, IPAM, MACs, attachments')
    .description(
      'Run the controller: a gRPC service (with server reflection) over a SQLite state file. It rebuilds from ' +
        "the file before it serves, and converges every host's agent to the desired state.",
    )
    .option('--config <file>', 'settings file (default /etc/fleetnet/controller.yaml when it exists)')
    .option(
      '--listen <addr:port>',
      'where to serve (mutual TLS once `fleetnet controller init` made a CA)',
      '127.0.0.1:7440',
    )
    .option('--trust-dir <dir>', 'PKI folder made by `fleetnet controller init`', '/etc/fleetnet/controller')
    .option('--db <path>', 'SQLite state file', '/var/lib/fleetnet/state.db')
    .option(
      '--synchronous <mode>',
      'SQLite synchronous mode in WAL: normal (survives a crash of the process) or full (also power loss)',
      'normal',
    )
    .option(
      '--etcd <urls>',
      'keep the state in etcd instead of --db (comma-separated client URLs); several controllers may share it',
    )
    .option('--etcd-ca <file>', "CA certificate of etcd's client TLS (https:// URLs)")
    .option('--etcd-cert <file>', 'client certificate for etcd (with --etcd-key)')
    .option('--etcd-key <file>', 'client private key for etcd (with --etcd-cert)')
    .option('--etcd-prefix <prefix>', 'key prefix of this fleet in etcd', '/fleetnet/')
    .option('--resync-ms <ms>', 'periodic reconcile pass per host', '10000')
    .option('--log-level <level>', 'trace, debug, info, warn, error', 'info')
    .option('--metrics <addr:port>', 'serve Prometheus metrics on http://ADDR:PORT/metrics (default: off)')
    .addHelpText('after', EXAMPLES)
    .action(async (opts: Record<string, string | undefined>, cmd: Command) => {
      const [
        { controllerConfig, ControllerConfigSchema, DEFAULT_CONTROLLER_CONFIG },
        { readConfigFile, fileSchemaOf, mergeFlags },
        { startController },
        { makeLogger, runUntilSignal },
        { notifyReady },
        { etcdFlags },
      ] = await Promise.all([
        import('../../controller/config.js'),
        import('../../common/config-file.js'),
        import('../../controller/main.js'),
        import('../../common/logger.js'),
        import('../../common/readiness.js'),
        import('../../controller/store/etcd/flags.js'),
      ]);
      const file = readConfigFile({
        // --config after `controller run` is read by the program's own --config (same meaning here)
        explicit: opts.config ?? (cmd.optsWithGlobals().config as string | undefined),
        defaultPath: DEFAULT_CONTROLLER_CONFIG,
        schema: fileSchemaOf(ControllerConfigSchema.shape),
        helpCmd: 'fleetnet controller run --help',
      });
      const { config: _file, etcd: _u, etcdCa: _a, etcdCert: _c, etcdKey: _k, etcdPrefix: _p, ...given } = opts;
      const flags = { ...given, resyncMs: int(opts.resyncMs, '--resync-ms'), ...etcdFlags(opts) };
      const cfg = controllerConfig(mergeFlags(file.values, flags, (k) => cmd.getOptionValueSource(k)));
      nameProcess('fleetnet-controller');
      const log = makeLogger(cfg.logLevel, 'controller');
      if (file.path) log.info({ config: file.path }, 'settings file read');
      const handle = await startController(cfg, log);
      await notifyReady(log, `serving on ${handle.listen}`);
      await runUntilSignal(log, handle);
      // Stopped cleanly: exit even if a library kept a stream open (the etcd client can keep one after close).
      process.exit(process.exitCode ?? 0);
    });
  c.command('init')
    .summary("make the fleet CA, the controller's certificate and the first CLI (admin) credential")
    .description(
      "Run on the controller's machine: the CA key stays in the trust folder, which only the controller reads. " +
        'Other machines get CLI credentials with `fleetnet controller cli-cert` (signed ' +
        'by the controller over the Admin service); `fleetnet controller cli-revoke` revokes them.',
    )
    .option('--dir <dir>', 'trust folder (0700)', '/etc/fleetnet/controller')
    .option('--token-ttl <duration>', 'join token lifetime', '15m')
    .option('--host-cert-validity <duration>', 'host certificate lifetime', '30d')
    .option('--cli-user <name>', 'name of the first CLI credential', 'admin')
    .option('--json', 'print the created paths as JSON')
    .addHelpText('after', '\nExample:\n  fleetnet controller init --dir /etc/fleetnet/controller --token-ttl 10m')
    .action(async (o: { dir: string; tokenTtl: string; hostCertValidity: string; cliUser: string; json?: boolean }) => {
      const [{ initControllerDir }, { parseDuration }, { parseCliUser }] = await Promise.all([
        import('../../controller/pki/controller-dir.js'),
        import('../../common/flag-values.js'),
        import('../../common/pki/identity.js'),
      ]);
      const settings = {
        joinTokenTtlMs: parseDuration(o.tokenTtl, '--token-ttl'),
        hostCertValidityMs: parseDuration(o.hostCertValidity, '--host-cert-validity'),
      };
      const r = await initControllerDir(o.dir, {
        settings,
        cliUser: parseCliUser(o.cliUser),
      });
      if (o.json) process.stdout.write(JSON.stringify(r, null, 2) + '\n');
      else {
        process.stdout.write(
          `CA:              ${r.caCert}\ncontroller cert: ${r.controllerCert}\n` +
            `CLI credential:  ${r.cliCert} (key ${r.cliKey}, 0600)\n`,
        );
      }
    });
}
