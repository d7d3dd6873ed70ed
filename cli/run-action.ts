// What every fleetnet process shares whether or not it builds commander's program (cli/program.ts): the
// program's own options, the command modules' shape, and how a command's failure becomes its message and
// exit code. The fast path (cli/fast-bundle.ts) runs a plain attach, detach or ls line from here without
// loading commander at all: commander's modules are CommonJS inside the bundle, evaluated (and compiled,
// outside Node's compile cache) only when something requires them.
import type { Command } from 'commander';
import { describeError, exitCodeOf } from '../common/errors.js';
import { exitOnceWritten } from './exit.js';
import type { OptionSpec } from './option-spec.js';

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
 * Runs a one-shot command's action that the fast path parsed without commander (cli/fast-parse.ts): its
 * failure reported as cli/program.ts's main() reports it, and the process ended once the output is written.
 */
export function runAction(action: () => Promise<void>): void {
  quietOnEarlyClose();
  action().then(exitOnceWritten, (err: unknown) => {
    reportFailure(err);
    exitOnceWritten();
  });
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
