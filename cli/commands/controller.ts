// fleetnet controller run: the fleet's controller (state, IPAM, MACs, orders to agents).
import type { Command } from 'commander';
import { invalid } from '../../common/errors.js';

const EXAMPLES = `
Examples:
  fleetnet controller run                                   # 127.0.0.1:7440, /var/lib/fleetnet/state.db
  fleetnet controller run --listen 10.99.0.2:7440 --db /srv/fleetnet/state.db
  fleetnet controller run --listen 10.99.0.2:7440 --etcd https://10.99.0.5:2379,https://10.99.0.6:2379,https://10.99.0.7:2379 \
    --etcd-ca /etc/fleetnet/etcd/ca.crt --etcd-cert /etc/fleetnet/etcd/client.crt --etcd-key /etc/fleetnet/etcd/client.key
    # several controllers on one etcd serve one fleet (README: HA controllers on etcd)

Then point the CLI at it (--controller, FLEETNET_CONTROLLER, or ~/.config/fleetnet/config.yaml):
  echo 'controller: 10.99.0.2:7440' > ~/.config/fleetnet/config.yaml
  fleetnet host add h2 --addr 10.99.0.12
  fleetnet net create blue --subnet 10.1.1.0/24 --gateway 10.1.1.1
  fleetnet attach --host h2 web1 10.1.1.50/24`;

function int(v: string | undefined, what: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw invalid(`${what} '${v}' is not a whole number`);
  return Number(v);
}

export function register(program: Command): void {
  const c = program.command('controller').summary('run the fleet controller');
  c.command('run')
    .summary('serve the fleet: hosts, networks, IPAM, MACs, attachments')
    .description('Run the controller: a gRPC service (with server reflection) over a SQLite state file. It rebuilds from the file before it serves, and converges every host\'s agent to the desired state.')
    .option('--listen <addr:port>', 'where to serve (mutual TLS once `fleetnet controller init` made a CA)', '127.0.0.1:7440')
    .option('--trust-dir <dir>', 'PKI folder made by `fleetnet controller init`', '/etc/fleetnet/controller')
    .option('--db <path>', 'SQLite state file', '/var/lib/fleetnet/state.db')
    .option('--synchronous <mode>', 'SQLite synchronous mode in WAL: normal (survives a crash of the process) or full (also power loss)', 'normal')
    .option('--etcd <urls>', 'keep the state in etcd instead of --db (comma-separated client URLs); several controllers may share it')
    .option('--etcd-ca <file>', 'CA certificate of etcd\'s client TLS (https:// URLs)')
    .option('--etcd-cert <file>', 'client certificate for etcd (with --etcd-key)')
    .option('--etcd-key <file>', 'client private key for etcd (with --etcd-cert)')
    .option('--etcd-prefix <prefix>', 'key prefix of this fleet in etcd', '/fleetnet/')
    .option('--resync-ms <ms>', 'periodic reconcile pass per host', '10000')
    .option('--log-level <level>', 'trace, debug, info, warn, error', 'info')
    .addHelpText('after', EXAMPLES)
    .action(async (opts: Record<string, string | undefined>) => {
      const [{ controllerConfig }, { startController }, { makeLogger, runUntilSignal }, { etcdFlags }] = await Promise.all([
        import('../../controller/config.js'),
        import('../../controller/main.js'),
        import('../../common/logger.js'),
        import('../../controller/store/etcd/flags.js'),
      ]);
      const cfg = controllerConfig({
        listen: opts.listen, db: opts.db, synchronous: opts.synchronous, logLevel: opts.logLevel, resyncMs: int(opts.resyncMs, '--resync-ms'), trustDir: opts.trustDir,
        ...etcdFlags(opts),
      });
      const log = makeLogger(cfg.logLevel, 'controller');
      const handle = await startController(cfg, log);
      await runUntilSignal(log, handle);
    });
}
