// The output options every read command takes, checked before anything is asked of an agent or
// the controller: `-o table|wide|json|yaml`, `--format TEMPLATE`, `-q` (ids only), `--json`
// (same as -o json). Bad input is exit 2 naming the token.
import type { Command } from 'commander';
import { invalid } from '../../common/errors.js';
import { addOptions, type OptionSpec } from '../option-spec.js';

export const OUTPUT_KINDS = ['table', 'wide', 'json', 'yaml'] as const;
export type OutputKind = (typeof OUTPUT_KINDS)[number];

export type OutputSpec =
  { kind: OutputKind | 'tree' | 'dot' | 'svg' } | { kind: 'template'; template: string } | { kind: 'ids' };

export interface OutputOpts {
  output?: string;
  format?: string;
  quiet?: boolean;
  json?: boolean;
}

/**
 * The output part of a read command's help: the -o kinds it takes (the first is its default), whether -q
 * prints ids, and --format examples over its own items' fields (each one the tests run).
 */
export function formatHelp(examples: readonly string[], o: { kinds?: readonly string[]; ids?: boolean } = {}): string {
  const [first, ...more] = o.kinds ?? OUTPUT_KINDS;
  const q = o.ids === false ? '' : '; -q prints only ids';
  return `
Output: -o ${first} (default) | ${more.join(' | ')}; --json is -o json${q}.
--format TEMPLATE prints one line per item from a Handlebars template over the fields of -o json:
  ${[...examples, '{{json this}}'].map((e) => `--format '${e}'`).join('   ')}`;
}

/** ls's output help. */
export const FORMAT_HELP = formatHelp(['{{host}} {{mac}}', '{{container}}: {{join addresses ","}}']);
/** hosts' and host ls's. */
export const HOSTS_FORMAT_HELP = formatHelp(['{{name}} {{state}}']);
/** nets' and net ls's. */
export const NETS_FORMAT_HELP = formatHelp(['{{name}} {{join subnets ","}}']);

/** The output options as a table (cli/option-spec.ts), -o first; -q/--quiet when the items have ids. */
export function outputOptions(o: { ids?: string } = {}): OptionSpec[] {
  return [
    ['-o, --output <format>', 'output format'],
    ['--format <template>', 'one line per item from a Handlebars template over the fields of -o json'],
    ['--json', 'print JSON (same as -o json)'],
    ...(o.ids ? [['-q, --quiet', `print only ${o.ids}`] as const] : []),
  ];
}

/** Adds -o/--output, --format, --json and (when the items have ids) -q/--quiet. kinds: what -o takes. */
export function addOutputOptions(cmd: Command, o: { ids?: string; kinds?: readonly string[] } = {}): Command {
  const [output, ...rest] = outputOptions(o);
  // commander refuses other formats, naming the token
  cmd.addOption(cmd.createOption(output![0], output![1]).choices(o.kinds ?? OUTPUT_KINDS));
  return addOptions(cmd, rest);
}

/**
 * The one output the options ask for; exit 2 for an unknown -o, a template that does not parse, or two that disagree.
 */
export async function outputSpec(
  o: OutputOpts,
  defaultKind: string = 'table',
  kinds: readonly string[] = OUTPUT_KINDS,
): Promise<OutputSpec> {
  if (o.output !== undefined && !kinds.includes(o.output)) {
    throw invalid(
      `-o ${o.output}: unknown output format '${o.output}'`,
      `use one of ${kinds.join(', ')}, or --format TEMPLATE`,
    );
  }
  const asked = [
    o.output !== undefined && `-o ${o.output}`,
    o.format !== undefined && '--format',
    o.quiet && '-q',
    o.json && '--json',
  ].filter(Boolean);
  if (asked.length > 1 && !(asked.length === 2 && o.json && o.output === 'json')) {
    throw invalid(`${asked.join(' and ')} ask for different outputs`, 'give one of -o, --format, -q, --json');
  }
  if (o.format !== undefined) {
    const { compileTemplate } = await import('./template.js');
    compileTemplate(o.format); // a template that does not parse is refused before anything runs
    return { kind: 'template', template: o.format };
  }
  if (o.quiet) return { kind: 'ids' };
  if (o.json) return { kind: 'json' };
  return { kind: (o.output ?? defaultKind) as OutputKind };
}

/** Reads a command's output options (its own, as registered by addOutputOptions). */
export function outputOf(
  cmd: Command,
  defaultKind: string = 'table',
  kinds: readonly string[] = OUTPUT_KINDS,
): Promise<OutputSpec> {
  return outputSpec(cmd.opts<OutputOpts>(), defaultKind, [...kinds, defaultKind]);
}
