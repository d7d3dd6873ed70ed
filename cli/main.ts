// fleetnet: one executable. Commands register cheaply; what they need is loaded when they run.
import { Command, CommanderError } from 'commander';
import { describeError, exitCodeOf } from '../common/errors.js';
import { VERSION } from '../common/version.js';
import { commandModules } from './command-table.js';

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
    'the fleet controller, or several comma-separated (the first that answers; env FLEETNET_CONTROLLER, or controller: in ~/.config/fleetnet/config.yaml)',
  )
  .option('--local', "talk to this host's agent even when a controller is configured")
  .option(
    '--config <file>',
    "the CLI's settings file (env FLEETNET_CONFIG; default ~/.config/fleetnet/config.yaml); for agent run and controller run, their settings file",
  )
  .option(
    '--context <name>',
    'a context of the settings file: its controllers (env FLEETNET_CONTEXT; default current-context)',
  )
  .showHelpAfterError('(add --help for usage and examples)')
  .exitOverride()
  .configureOutput({ outputError: (s, write) => write(`fleetnet: ${s.replace(/^error: /, '')}`) });

// Only the command this process runs (all of them for help, no command, or an unknown word).
for (const m of commandModules(process.argv.slice(2))) m.register(program);
for (const c of program.commands) c.exitOverride();

// No top-level await: the bundle is CommonJS (dist/fleetnet.cjs, run by bin/fleetnet.cjs with Node's compile cache).
async function main(): Promise<void> {
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
}

void main();
