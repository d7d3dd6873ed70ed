// The fleetnet program: global options, error handling and exit codes, with the command modules an
// entry chose for this process (cli/main.ts: any command; cli/main-fast.ts: attach, detach, ls).
import { Command, CommanderError } from 'commander';
import { describeError, exitCodeOf } from '../common/errors.js';
import { VERSION } from '../common/version.js';
import { exitOnceWritten } from './exit.js';
import { addOptions, type OptionSpec } from './option-spec.js';

/** The program's own options (any command line may carry them, before or after its command). */
export const GLOBAL_OPTIONS: readonly OptionSpec[] = [
  ['--socket <path>', 'local agent socket (env FLEETNET_AGENT_SOCKET)'],
  [
    '--controller <addr:port,...>',
    'the fleet controller, or several comma-separated (the first that answers; env ' +
      'FLEETNET_CONTROLLER, or controller: in ~/.config/fleetnet/config.yaml)',
  ],
  ['--local', "talk to this host's agent even when a controller is configured"],
  [
    '--config <file>',
    "the CLI's settings file (env FLEETNET_CONFIG; default ~/.config/fleetnet/config.yaml); for " +
      'agent run and controller run, their settings file',
  ],
  [
    '--context <name>',
    'a context of the settings file: its controllers (env FLEETNET_CONTEXT; default current-context)',
  ],
];

export interface CommandModule {
  register(program: Command): void;
}

/**
 * Parses process.argv with these command modules registered and runs the command; sets the exit code.
 * `exitWhenDone`: the process exits as soon as the command has finished (see main()).
 */
export function runCli(modules: readonly CommandModule[], o: { exitWhenDone?: boolean } = {}): void {
  quietOnEarlyClose();
  void main(buildProgram(modules), o.exitWhenDone ?? false);
}

/** The program with these command modules registered. */
export function buildProgram(modules: readonly CommandModule[]): Command {
  const program = addOptions(
    new Command('fleetnet')
      .description('Give containers real network interfaces, on one host or across a fleet.')
      .version(VERSION),
    GLOBAL_OPTIONS,
  )
    .showHelpAfterError('(add --help for usage and examples)')
    .exitOverride()
    .configureOutput({ outputError: (s, write) => write(`fleetnet: ${s.replace(/^error: /, '')}`) });
  for (const m of modules) m.register(program);
  for (const c of program.commands) c.exitOverride();
  return program;
}

/**
 * Runs a one-shot command's action that the fast path parsed without commander (cli/fast-parse.ts): its
 * failure reported as main() reports it, and the process ended once the output is written.
 */
export function runAction(action: () => Promise<void>): void {
  quietOnEarlyClose();
  action().then(exitOnceWritten, (err: unknown) => {
    reportFailure(err);
    exitOnceWritten();
  });
}

// No top-level await: the bundles are CommonJS (run by bin/fleetnet.cjs with Node's compile cache).
async function main(program: Command, exitWhenDone: boolean): Promise<void> {
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : 2; // commander already printed the message
    } else reportFailure(err);
  }
  // A one-shot command (attach, detach, ls, --version) whose promise has settled is done.
  if (exitWhenDone) exitOnceWritten();
}

/** `fleetnet ls | head`: a reader that stops early is not an error. */
export function quietOnEarlyClose(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
}

/** A command that failed: its error (and hint) on stderr, and its exit code. */
export function reportFailure(err: unknown): void {
  process.stderr.write(`fleetnet: ${describeError(err)}\n`);
  process.exitCode = exitCodeOf(err);
}
