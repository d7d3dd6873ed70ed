// fleetnet hosts: the fleet's hosts (same as `host ls`).
import type { Command } from 'commander';
import { addOutputOptions, HOSTS_FORMAT_HELP, outputOf } from '../output/format.js';

export function register(program: Command): void {
  addOutputOptions(program.command('hosts'), { ids: 'host names' })
    .summary('list fleet hosts (same as host ls)')
    .addHelpText('after', HOSTS_FORMAT_HELP)
    .action(async (_opts: unknown, cmd: Command) => (await import('./host.js')).printHosts(cmd, await outputOf(cmd)));
}
