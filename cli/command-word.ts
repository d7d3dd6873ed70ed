// The command word of a fleetnet command line: what both CLI entries (cli/main.ts, cli/main-fast.ts)
// choose their command modules by. Its own module, so that the fast entry does not load the table of
// every command to find it.

/** The program's own options that take a value (so the word after them is not the command). */
const GLOBAL_WITH_VALUE = new Set(['--socket', '--controller', '--config', '--context']);

/** The command word of `fleetnet [global options] COMMAND …`, or undefined. */
export function commandWord(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') return undefined;
    if (GLOBAL_WITH_VALUE.has(a)) i++;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}
