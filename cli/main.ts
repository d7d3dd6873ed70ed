// fleetnet: one executable. Commands register cheaply; what they need is loaded when they run.
// This is the whole CLI (dist/fleetnet-all.cjs); bin/fleetnet.cjs first runs cli/main-fast.ts,
// which serves attach, detach and ls itself and hands every other command line to this one.
import { commandModules } from './command-table.js';
import { runCli } from './program.js';

// Only the command this process runs (all of them for help, no command, or an unknown word).
runCli(commandModules(process.argv.slice(2)));
