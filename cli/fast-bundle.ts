// dist/fleetnet-fast.cjs, which the entry (cli/main-fast.ts) hands attach, detach and ls: a bundle of just
// their modules. In the whole CLI nearly every module sits behind a lazy `import()`, so a new process
// compiles each one it runs from source; this bundle imports its modules statically (none behind `import()`
// but the rarely used settings file and --format template), so their code comes compiled from Node's
// compile cache, and its file is a third of the size. A plain attach, detach or ls line is parsed from the
// commands' option tables without commander (cli/fast-parse.ts); anything else goes through commander as
// before: commander is loaded only then (its modules run, and compile, in every process that loads them).
// Only for the bundle: under tsx, run cli/main.ts.
import { fastAction, fastModules } from './fast-commands.js';
import { runAction } from './run-action.js';

const args = process.argv.slice(2);
const action = fastAction(args); // a plain attach, detach or ls: parsed without building commander's program
const modules = action ? undefined : fastModules(args);
if (action) runAction(action);
else if (modules) void import('./program.js').then((p) => p.runCli(modules, { exitWhenDone: true }));
else require(`${__dirname}/fleetnet-all.cjs`);
