// fleetnet: one executable. Commands register cheaply; what they need is loaded when they run.
import { Command, CommanderError } from 'commander';
import { describeError, exitCodeOf } from '../common/errors.js';
import { VERSION } from '../common/version.js';
import * as agent from './commands/agent.js';
import * as attach from './commands/attach.js';
import * as detach from './commands/detach.js';
import * as inspect from './commands/inspect.js';
import * as ls from './commands/ls.js';
import * as lab from './commands/lab.js';
import * as mesh from './commands/mesh.js';
import * as route from './commands/route.js';
import * as rule from './commands/rule.js';
import * as tc from './commands/tc.js';
import * as controller from './commands/controller.js';
import * as host from './commands/host.js';
import * as hosts from './commands/hosts.js';
import * as net from './commands/net.js';
import * as nets from './commands/nets.js';
import * as hostBootstrap from './commands/host-bootstrap.js'; // trust (issue 7): host add --ssh, rm, rotate-cert, controller init

// `fleetnet ls | head`: a reader that stops early is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const program = new Command('fleetnet')
  .description('Give containers real network interfaces, on one host or across a fleet.')
  .version(VERSION)
  .option('--socket <path>', 'local agent socket (env FLEETNET_AGENT_SOCKET)')
  .option('--controller <addr:port>', 'the fleet controller (env FLEETNET_CONTROLLER, or controller: in ~/.config/fleetnet/config.yaml)')
  .option('--local', 'talk to this host\'s agent even when a controller is configured')
  .showHelpAfterError('(add --help for usage and examples)')
  .exitOverride()
  .configureOutput({ outputError: (s, write) => write(`fleetnet: ${s.replace(/^error: /, '')}`) });

// hostBootstrap last: it extends the host and controller commands registered before it
for (const m of [attach, detach, ls, inspect, route, rule, tc, host, hosts, net, nets, agent, controller, lab, mesh, hostBootstrap]) m.register(program);
for (const c of program.commands) c.exitOverride();

// No top-level await: the bundle is CommonJS (dist/fleetnet.cjs, run with a code cache by bin/fleetnet.cjs).
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
