// The commands the fast bundle (cli/fast-bundle.ts) serves: its own table, so that the fast bundle does
// not hold the table of every command. test/unit/cli-fast-path.test.ts checks it against
// cli/command-table.ts and the entry's FAST_WORDS.
import { commandWord, isBareVersion } from './command-word.js';
import type { Opts } from './fleet/common.js';
import * as attach from './commands/attach.js';
import * as detach from './commands/detach.js';
import * as ls from './commands/ls.js';
import { parseFastLine, type FastGrammar } from './fast-parse.js';
import { OUTPUT_KINDS, outputOptions, type OutputKind } from './output/format.js';
import { GLOBAL_OPTIONS, type CommandModule } from './run-action.js';

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

interface FastAction extends FastGrammar {
  run(operands: string[], opts: Opts, withGlobals: Opts): Promise<void>;
}

/** The commands whose plain command lines the fast path parses without commander (cli/fast-parse.ts). */
export const FAST_ACTIONS: readonly FastAction[] = [
  {
    word: 'attach',
    options: attach.ATTACH_OPTIONS,
    operands: { min: 1, max: Infinity },
    run: (operands, opts, g) => attach.attachAction(operands, opts, g),
  },
  {
    word: 'ls',
    options: [...outputOptions({ ids: ls.LS_IDS }), ...ls.LS_OPTIONS],
    operands: { min: 0, max: 0 },
    // commander's -o choices (cli/output/format.ts)
    accepts: (opts) => opts.output === undefined || OUTPUT_KINDS.includes(opts.output as OutputKind),
    run: (_operands, opts, g) => ls.lsAction(opts, g),
  },
  {
    word: 'detach',
    options: detach.DETACH_OPTIONS,
    operands: { min: 1, max: 1 },
    run: ([container], opts, g) => detach.detachAction(container!, opts, g),
  },
];

/** The action of a plain attach, detach or ls command line, ready to run; undefined for commander to parse. */
export function fastAction(args: readonly string[]): (() => Promise<void>) | undefined {
  const word = commandWord(args);
  const a = FAST_ACTIONS.find((x) => x.word === word);
  const line = a && parseFastLine(args, a, GLOBAL_OPTIONS);
  return line && (() => a!.run(line.operands, line.opts, line.withGlobals));
}
