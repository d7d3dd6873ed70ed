// The fleetnet program on commander: the global options (cli/run-action.ts), help, errors and exit codes,
// with the command modules an entry chose for this process (cli/main.ts: any command; cli/fast-bundle.ts:
// an attach, detach or ls line that is not plain, e.g. --help).
import { Command, CommanderError } from 'commander';
import { VERSION } from '../common/version.js';
import { exitOnceWritten } from './exit.js';
import { addOptions } from './option-spec.js';
import { GLOBAL_OPTIONS, quietOnEarlyClose, reportFailure, type CommandModule } from './run-action.js';

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
