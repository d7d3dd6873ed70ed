// fleetnet hosts: the fleet's hosts (same as `host ls`).
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('hosts')
    .summary('list fleet hosts (same as host ls)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => (await import('./host.js')).printHosts(cmd, Boolean(opts.json)));
}
