// The entry bin/fleetnet.cjs runs (dist/fleetnet.cjs): a file of a few hundred bytes that chooses what this
// process loads. A bare --version is answered here, from nothing else; attach, detach and ls — the commands
// scripts run once per container — go to dist/fleetnet-fast.cjs (cli/fast-bundle.ts: a bundle of just their
// modules); every other command line to the whole CLI (cli/main.ts, dist/fleetnet-all.cjs). Only for the
// bundle: under tsx, run cli/main.ts.
import { VERSION } from '../common/version.js';
import { commandWord, FAST_WORDS, isBareVersion } from './command-word.js';
import { exitOnceWritten } from './exit.js';

const args = process.argv.slice(2);
const word = commandWord(args);
if (isBareVersion(args)) {
  process.stdout.write(`${VERSION}\n`); // what commander's .version() prints, exit 0
  exitOnceWritten();
} else if (word !== undefined && FAST_WORDS.includes(word)) require(`${__dirname}/fleetnet-fast.cjs`);
else require(`${__dirname}/fleetnet-all.cjs`);
