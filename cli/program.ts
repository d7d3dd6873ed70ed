// The fleetnet program: global options, error handling and exit codes, with the command modules an
// entry chose for this process (cli/main.ts: any command; cli/main-fast.ts: attach, detach, ls).
import { Command, CommanderError } from 'commander';
import { describeError, exitCodeOf } from '../common/errors.js';
import { VERSION } from '../common/version.js';
import { exitOnceWritten } from './exit.js';

export interface CommandModule {
  register(program: Command): void;
}

/**
 * Parses process.argv with these command modules registered and runs the command; sets the exit code.
 * `exitWhenDone`: the process exits as soon as the command has finished (see main()).
 */
export function runCli(modules: readonly CommandModule[], o: { exitWhenDone?: boolean } = {}): void {
  // `fleetnet ls | head`: a reader that stops early is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  const program = new Command('fleetnet')
    .description('Give containers real network interfaces, on one host or across a fleet.')
    .version(VERSION)
    .option('--socket <path>', 'local agent socket (env FLEETNET_AGENT_SOCKET)')
    .option(
      '--controller <addr:port,...>',
      'the fleet controller, or several comma-separated (the first that answers; env ' +
        'FLEETNET_CONTROLLER, or controller: in ~/.config/fleetnet/config.yaml)',
    )
    .option('--local', "talk to this host's agent even when a controller is configured")
    .option(
      '--config <file>',
      "the CLI's settings file (env FLEETNET_CONFIG; default ~/.config/fleetnet/config.yaml); for " +
        'agent run and controller run, their settings file',
    )
    .option(
      '--context <name>',
      'a context of the settings file: its controllers (env FLEETNET_CONTEXT; default current-context)',
    )
    .showHelpAfterError('(add --help for usage and examples)')
    .exitOverride()
    .configureOutput({ outputError: (s, write) => write(`fleetnet: ${s.replace(/^error: /, '')}`) });
  for (const m of modules) m.register(program);
  for (const c of program.commands) c.exitOverride();
  void main(program, o.exitWhenDone ?? false);
}

// No top-level await: the bundles are CommonJS (run by bin/fleetnet.cjs with Node's compile cache).
async function main(program: Command, exitWhenDone: boolean): Promise<void> {
  try {
    await program.parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : 2; // commander already printed the message
    } else {
      process.stderr.write(`fleetnet: ${describeError(err)}\n`);
      process.exitCode = exitCodeOf(err);
    }
  }
  // A one-shot command (attach, detach, ls, --version) whose promise has settled is done.
  if (exitWhenDone) exitOnceWritten();
}
