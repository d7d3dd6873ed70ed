// fleetnet nets: the fleet's networks (same as `net ls`).
import type { Command } from 'commander';
import { addOutputOptions, NETS_FORMAT_HELP, outputOf } from '../output/format.js';

export function register(program: Command): void {
  addOutputOptions(program.command('nets'), { ids: 'network names' })
    .summary('list fleet networks (same as net ls)')
    .addHelpText('after', NETS_FORMAT_HELP)
    .action(async (_opts: unknown, cmd: Command) => (await import('./net.js')).printNets(cmd, await outputOf(cmd)));
}
