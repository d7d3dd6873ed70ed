// The command word of a fleetnet command line: what the CLI entries (cli/main.ts, cli/main-fast.ts and
// cli/fast-bundle.ts) choose their command modules by. Its own module, so that the entry loads nothing
// else to find it.

/** The program's own options that take a value (so the word after them is not the command). */
const GLOBAL_WITH_VALUE = new Set(['--socket', '--controller', '--config', '--context']);

/** The commands dist/fleetnet-fast.cjs serves (cli/fast-commands.ts has their modules). */
export const FAST_WORDS: readonly string[] = ['attach', 'detach', 'ls'];

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

/** `fleetnet --version` (or -V) and nothing else. */
export function isBareVersion(args: readonly string[]): boolean {
  return args.length === 1 && (args[0] === '--version' || args[0] === '-V');
}
