// fleetnet nets: the fleet's networks (same as `net ls`).
import type { Command } from 'commander';

export function register(program: Command): void {
  program
    .command('nets')
    .summary('list fleet networks (same as net ls)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }, cmd: Command) => (await import('./net.js')).printNets(cmd, Boolean(opts.json)));
}
