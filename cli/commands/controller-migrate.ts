// fleetnet controller migrate: copy a fleet between the SQLite file and etcd, and verify the copy.
import type { Command } from 'commander';
import { FleetnetError, invalid } from '../../common/errors.js';

const EXAMPLES = `
Examples:
  fleetnet controller migrate --from /var/lib/fleetnet/state.db \\
    --etcd http://10.0.0.5:2379,http://10.0.0.6:2379,http://10.0.0.7:2379
  fleetnet controller migrate --etcd http://10.0.0.5:2379 --to /var/lib/fleetnet/state.db      # and back

Stop the controller(s) first: a fleet that changes during the copy fails the verification.
The destination must be empty (a new file, or an etcd prefix nothing uses: --etcd-prefix).
The trust records go with the fleet: join tokens, issued serials and revocations of the trust
folder (--trust-dir) are copied into etcd, or etcd's are added to the folder. The CA and the
credentials stay in the folder.`;

interface Opts {
  from?: string;
  to?: string;
  etcd?: string;
  etcdCa?: string;
  etcdCert?: string;
  etcdKey?: string;
  etcdPrefix?: string;
  trustDir: string;
  json?: boolean;
}

export function register(program: Command): void {
  const c =
    program.commands.find((x) => x.name() === 'controller') ??
    program.command('controller').summary('the fleet controller');
  c.command('migrate')
    .summary('copy the fleet from a SQLite file to etcd (--from FILE) or back (--to FILE), then verify the copy')
    .option('--from <file>', 'the SQLite state file to copy into etcd')
    .option('--to <file>', "a new SQLite state file to copy etcd's fleet into")
    .option('--etcd <urls>', 'etcd client URLs (comma-separated)')
    .option('--etcd-ca <file>', "CA certificate of etcd's client TLS")
    .option('--etcd-cert <file>', 'client certificate for etcd')
    .option('--etcd-key <file>', 'client private key for etcd')
    .option('--etcd-prefix <prefix>', 'key prefix of the fleet in etcd', '/fleetnet/')
    .option(
      '--trust-dir <dir>',
      "the controller's trust folder: its join tokens, issued serials and revocations go with the fleet",
      '/etc/fleetnet/controller',
    )
    .option('--json', 'print the counts as JSON')
    .addHelpText('after', EXAMPLES)
    .action(async (o: Opts) => {
      if (!o.etcd) throw invalid('controller migrate needs --etcd URLS', 'e.g. --etcd http://10.0.0.5:2379');
      if (!o.from === !o.to)
        throw invalid(
          'give one of --from FILE (SQLite to etcd) or --to FILE (etcd to SQLite)',
          'see: fleetnet controller migrate --help',
        );
      const [
        { etcdFlags },
        { EtcdStore },
        { SqliteStore },
        { migrateFleet, verifyCopy },
        trust,
        { makeLogger },
        { existsSync, rmSync },
      ] = await Promise.all([
        import('../../controller/store/etcd/flags.js'),
        import('../../controller/store/etcd/etcd-store.js'),
        import('../../controller/store/sqlite.js'),
        import('../../controller/store/migrate.js'),
        import('../../controller/store/migrate-trust.js'),
        import('../../common/logger.js'),
        import('node:fs'),
      ]);
      const { etcd } = etcdFlags(o);
      if (o.from && !existsSync(o.from))
        throw invalid(`--from ${o.from}: no such file`, "give the controller's state file (--db of controller run)");
      if (o.to && existsSync(o.to))
        throw invalid(`--to ${o.to} exists`, 'give a new file: a migration never merges into an existing fleet');
      const withTrust = trust.isTrustFolder(o.trustDir);
      const log = makeLogger('warn', 'migrate');
      // The source first: a --from file that is no state file is refused before etcd is touched (its open writes
      // the prefix's schema key); a --to file is made only once etcd answered. Either failing closes the other,
      // so nothing keeps the process alive.
      const source = o.from ? openSource(SqliteStore, o.from) : undefined;
      let etcdStore: Awaited<ReturnType<typeof EtcdStore.open>>;
      let file: InstanceType<typeof SqliteStore>;
      try {
        etcdStore = await EtcdStore.open({ ...etcd!, log });
      } catch (err) {
        source?.close();
        throw err;
      }
      try {
        file = source ?? new SqliteStore({ path: o.to! });
      } catch (err) {
        etcdStore.close();
        throw err;
      }
      let copied = false;
      let written = false;
      const writing = () => {
        written = true;
      };
      try {
        const r = o.from ? await migrateFleet(file, etcdStore, writing) : await migrateFleet(etcdStore, file, writing);
        const records = withTrust ? (o.from ? trust.folderTrust(o.trustDir) : trust.etcdTrust(etcdStore)) : undefined;
        if (records && o.from) await trust.writeEtcdTrust(etcdStore, records);
        if (records && o.to) await trust.writeFolderTrust(o.trustDir, records);
        if (o.from) {
          // Verified once more from a fresh read of etcd, not from the copy this process wrote.
          const fresh = await EtcdStore.open({ ...etcd!, log });
          try {
            await verifyCopy(file, fresh);
            if (records) trust.verifyTrust(records, trust.etcdTrust(fresh), fresh.description);
          } finally {
            fresh.close();
          }
        } else if (records) trust.verifyTrust(records, trust.folderTrust(o.trustDir), o.trustDir);
        copied = true;
        const counts = records ? trust.countTrust(records) : null;
        const route = o.from
          ? `from ${o.from} to ${etcdStore.description}`
          : `from ${etcdStore.description} to ${o.to}`;
        if (o.json) process.stdout.write(JSON.stringify({ ...r, trust: counts }) + '\n');
        else {
          process.stdout.write(
            `copied and verified: ${r.hosts} hosts, ${r.networks} networks, ${r.attachments} attachments ` +
              `(${r.addresses} addresses, ${r.macs} MACs) ${route}\n`,
          );
          if (counts)
            process.stdout.write(
              `trust records of ${o.trustDir}: ${counts.revoked} revoked serials, ${counts.issued} issued serials, ` +
                `${counts.tokens} join tokens\n`,
            );
        }
        if (!counts)
          process.stderr.write(
            `fleetnet: no trust folder at ${o.trustDir} (no ca.crt): join tokens, issued serials and revocations ` +
              `were not copied; give --trust-dir DIR if the controller keeps its folder elsewhere\n`,
          );
      } catch (err) {
        // Nothing half-made: the destination was empty (migrateFleet checked), so it is emptied again.
        if (written && o.from) await etcdStore.clearData().catch(() => undefined);
        throw err;
      } finally {
        file.close();
        etcdStore.close();
        if (!copied && o.to) for (const f of [o.to, `${o.to}-wal`, `${o.to}-shm`]) rmSync(f, { force: true });
      }
    });
}

/** The --from file as a state store; a file that is not one is bad input (exit 2), before anything is contacted. */
function openSource<S>(Store: new (o: { path: string }) => S, path: string): S {
  try {
    return new Store({ path });
  } catch (err) {
    throw new FleetnetError('invalid', `--from ${path} is not a fleetnet state file`, {
      cause: err,
      hint: "give the controller's SQLite state file (--db of controller run); nothing was written",
    });
  }
}
