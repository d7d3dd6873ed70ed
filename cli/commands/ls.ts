// fleetnet ls: every interface fleetnet made (on this host, until a controller answers for the fleet).
// One schema whichever answers (common/ls-schema.ts); the formats come from cli/output/.
import type { Command } from 'commander';
import { lsEntryOf } from '../../common/inventory.js';
import { connectAgent } from '../client/agent.js';
import { controllerFor, type Opts } from '../fleet/common.js';
import { addOptions, type OptionSpec } from '../option-spec.js';
import { addOutputOptions, FORMAT_HELP, outputSpec, OUTPUT_KINDS } from '../output/format.js';
import { render } from '../output/render.js';
import { LS_VIEW } from '../output/views.js';
import { fleetLs } from './fleet-ls.js';

/** What -q prints. */
export const LS_IDS = 'attachment ids';

/** ls's own options (after the output options), in the order its help lists them. */
export const LS_OPTIONS: readonly OptionSpec[] = [
  ['--host <name>', 'only this fleet host (with a controller)'],
  ['--net <name>', 'only this network (with a controller)'],
];

export function register(program: Command): void {
  addOptions(addOutputOptions(program.command('ls'), { ids: LS_IDS }), LS_OPTIONS)
    .summary('list the interfaces fleetnet made')
    .addHelpText(
      'after',
      `${FORMAT_HELP}\n\nExamples:\n  fleetnet ls -o wide\n  fleetnet ls --host h2 -q\n  fleetnet ` +
        `ls --format '{{container}} {{join addresses " "}}'`,
    )
    .action((opts: Opts, cmd: Command) => lsAction(opts, cmd.optsWithGlobals()));
}

/** `fleetnet ls` with its options and the program's (`g`: commander's optsWithGlobals()). */
export async function lsAction(opts: Opts, g: Opts): Promise<void> {
  const spec = await outputSpec(opts, 'table', [...OUTPUT_KINDS, 'table']);
  const ctl = await controllerFor(g);
  if (ctl) return fleetLs(ctl, opts as { host?: string; net?: string }, spec);
  const conn = connectAgent(g.socket as string | undefined);
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
}
