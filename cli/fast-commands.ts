// The commands the fast bundle (cli/fast-bundle.ts) serves: its own table, so that the fast bundle does
// not hold the table of every command. test/unit/cli-fast-path.test.ts checks it against
// cli/command-table.ts and the entry's FAST_WORDS.
import { commandWord, isBareVersion } from './command-word.js';
import * as attach from './commands/attach.js';
import * as detach from './commands/detach.js';
import * as ls from './commands/ls.js';
import type { CommandModule } from './program.js';

/** The commands this bundle serves, with the modules that register them (as in cli/command-table.ts). */
export const FAST_COMMANDS: Readonly<Record<string, readonly CommandModule[]>> = {
  attach: [attach],
  detach: [detach],
  ls: [ls],
};

/** The modules for these arguments, or undefined when the whole CLI must answer. */
export function fastModules(args: readonly string[]): readonly CommandModule[] | undefined {
  const word = commandWord(args);
  if (word !== undefined) return Object.hasOwn(FAST_COMMANDS, word) ? FAST_COMMANDS[word] : undefined;
  return isBareVersion(args) ? [] : undefined;
}
