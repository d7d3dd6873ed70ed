// The fast path's parse of a plain attach, detach or ls command line: Node's util.parseArgs over the option
// tables commander registers (cli/option-spec.ts), giving what commander would give the command's action,
// so that a process which runs one of them does not build commander's program and parse with it (about
// 1.5 ms of a new process's CPU). Anything but a plain line is left to commander, for its own output and
// errors: help and --version anywhere, an unknown or ambiguous option, a missing value or argument, too many
// arguments, a value outside an option's choices, a command's option before the command word, a short
// option written with its value attached (-ieth1) and `--`. test/unit/cli-fast-parse.test.ts holds both
// parsers to the same answers.
import { parseArgs } from 'node:util';
import type { Opts } from './fleet/common.js';
import type { OptionSpec } from './option-spec.js';

export interface FastLine {
  /** The command's arguments after its word. */
  operands: string[];
  /** The command's options, defaults included (commander's opts()). */
  opts: Opts;
  /** Its options merged with the program's (commander's optsWithGlobals()). */
  withGlobals: Opts;
}

export interface FastGrammar {
  word: string;
  options: readonly OptionSpec[];
  /** How many arguments the command takes after its word. */
  operands: { min: number; max: number };
  /** What commander checks beyond the table (e.g. an option's choices): false leaves the line to commander. */
  accepts?: (opts: Opts) => boolean;
}

interface Flag {
  short?: string;
  long: string;
  /** commander's attribute name: the long name in camelCase. */
  key: string;
  takesValue: boolean;
  defaultValue?: string;
}

const FLAGS = /^(?:-([A-Za-z]), )?--([a-z][a-z0-9-]*)( <[^>]+>)?$/;
const LEFT_TO_COMMANDER = new Set(['--', '-h', '--help', '-V', '--version']);

function flagOf([flags, , defaultValue]: OptionSpec): Flag {
  const m = FLAGS.exec(flags);
  if (!m) throw new Error(`fast parse: cannot read the option flags '${flags}'`);
  const key = m[2]!.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  return { short: m[1], long: m[2]!, key, takesValue: m[3] !== undefined, defaultValue };
}

/** What commander would hand this command's action for `args` (process.argv without node and script), or undefined. */
export function parseFastLine(
  args: readonly string[],
  grammar: FastGrammar,
  globalOptions: readonly OptionSpec[],
): FastLine | undefined {
  if (args.some((a) => LEFT_TO_COMMANDER.has(a) || (a.length > 2 && a[0] === '-' && a[1] !== '-'))) return undefined;
  const own = grammar.options.map(flagOf);
  const globals = globalOptions.map(flagOf);
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const f of [...globals, ...own])
    options[f.long] = { type: f.takesValue ? 'string' : 'boolean', ...(f.short ? { short: f.short } : {}) };
  let parsed: ReturnType<typeof parseArgs<{ options: typeof options; tokens: true; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true, tokens: true });
  } catch {
    return undefined;
  }
  const word = parsed.tokens.find((t) => t.kind === 'positional');
  if (!word || word.value !== grammar.word) return undefined;
  const globalNames = new Set(globals.map((f) => f.long));
  for (const t of parsed.tokens)
    if (t.kind === 'option' && t.index < word.index && !globalNames.has(t.name)) return undefined;
  const operands = parsed.positionals.slice(1);
  if (operands.length < grammar.operands.min || operands.length > grammar.operands.max) return undefined;
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const opts: Opts = {};
  for (const f of own) {
    const v = values[f.long] ?? f.defaultValue;
    if (v !== undefined) opts[f.key] = v;
  }
  if (grammar.accepts && !grammar.accepts(opts)) return undefined;
  const withGlobals: Opts = { ...opts };
  for (const f of globals) if (values[f.long] !== undefined) withGlobals[f.key] = values[f.long];
  return { operands, opts, withGlobals };
}
