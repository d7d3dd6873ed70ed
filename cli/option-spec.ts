// A command's options as one table: commander registers them from it (the command's help and errors), and the
// fast path (cli/fast-parse.ts) parses a plain command line from the same table without commander.
import type { Command } from 'commander';

/** `[flags, description, default]` as commander's `.option()` takes them, e.g. `['-i, --ifname <name>', '…']`. */
export type OptionSpec = readonly [flags: string, description: string, defaultValue?: string];

/** Registers these options on a command, in order (the order its help lists them in). */
export function addOptions(cmd: Command, specs: readonly OptionSpec[]): Command {
  for (const [flags, description, defaultValue] of specs) cmd.option(flags, description, defaultValue);
  return cmd;
}
