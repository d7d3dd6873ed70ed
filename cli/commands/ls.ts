// fleetnet ls: every interface fleetnet made (on this host, until a controller answers for the fleet).
// One schema whichever answers (common/ls-schema.ts); the formats come from cli/output/.
import type { Command } from 'commander';
import { lsEntryOf } from '../../common/inventory.js';
import { connectAgent } from '../client/agent.js';
import { controllerOf } from '../fleet/common.js';
import { addOutputOptions, FORMAT_HELP, outputOf } from '../output/format.js';
import { render } from '../output/render.js';
import { LS_VIEW } from '../output/views.js';
import { fleetLs } from './fleet-ls.js';

export function register(program: Command): void {
  addOutputOptions(program.command('ls'), { ids: 'attachment ids' })
    .summary('list the interfaces fleetnet made')
    .option('--host <name>', 'only this fleet host (with a controller)')
    .option('--net <name>', 'only this network (with a controller)')
    .addHelpText(
      'after',
      `${FORMAT_HELP}\n\nExamples:\n  fleetnet ls -o wide\n  fleetnet ls --host h2 -q\n  fleetnet ` +
        `ls --format '{{container}} {{join addresses " "}}'`,
    )
    .action(async (opts: { host?: string; net?: string }, cmd: Command) => {
      const spec = await outputOf(cmd);
      const ctl = await controllerOf(cmd);
      if (ctl) return fleetLs(ctl, opts, spec);
      const conn = connectAgent(cmd.optsWithGlobals().socket as string | undefined);
      try {
        const [res, health] = await Promise.all([conn.call(conn.client.list, {}), conn.call(conn.client.health, {})]);
        await render(spec, { items: res.interfaces.map((i) => lsEntryOf(health.hostname, i)) }, LS_VIEW);
        // Containers whose fleetnet labels could not be acted on: on stderr, so -o json stays the one schema.
        for (const l of res.labelled) {
          for (const e of l.errors)
            process.stderr.write(`fleetnet: labels of ${l.name || l.id.slice(0, 12)} not acted on: ${e}\n`);
        }
      } finally {
        conn.close();
      }
    });
}
