// Which command modules a fleetnet process registers with commander. A process runs one command,
// and registering all of them (their options, arguments, help texts) costs a new process ~2-3 ms:
// so only the named command's modules are registered; with no command, help, or a word that is
// not in this table, all of them are (help lists every command, and commander suggests the near
// miss for a typo). test/unit/command-table.test.ts checks that each entry registers exactly
// what the full registration has under that name.
import type { CommandModule } from './run-action.js';
import { commandWord } from './command-word.js';
import * as agent from './commands/agent.js';
import * as attach from './commands/attach.js';
import * as cni from './commands/cni.js';
import * as check from './commands/check.js';
import * as completion from './commands/completion.js';
import * as config from './commands/config.js';
import * as controller from './commands/controller.js';
import * as controllerMigrate from './commands/controller-migrate.js';
import * as detach from './commands/detach.js';
import * as events from './commands/events.js';
import * as host from './commands/host.js';
// trust (issue 7): host add --ssh, rm, rotate-cert, controller init
import * as hostBootstrap from './commands/host-bootstrap.js';
import * as hosts from './commands/hosts.js';
import * as inspect from './commands/inspect.js';
import * as lab from './commands/lab.js';
import * as ls from './commands/ls.js';
import * as mesh from './commands/mesh.js';
import * as net from './commands/net.js';
import * as nets from './commands/nets.js';
import * as route from './commands/route.js';
import * as rule from './commands/rule.js';
import * as tc from './commands/tc.js';
import * as topology from './commands/topology.js';
import * as version from './commands/version.js';

export { commandWord, type CommandModule };

/** Every module, in registration order (hostBootstrap last: it extends host and controller). */
export const ALL_COMMANDS: readonly CommandModule[] = [
  attach,
  detach,
  ls,
  check,
  inspect,
  route,
  rule,
  tc,
  host,
  hosts,
  net,
  nets,
  agent,
  controller,
  controllerMigrate,
  lab,
  mesh,
  cni,
  topology,
  config,
  events,
  version,
  completion,
  hostBootstrap,
];

/** Top-level command name → the modules that register it (in ALL_COMMANDS order). */
export const COMMAND_MODULES: Readonly<Record<string, readonly CommandModule[]>> = {
  attach: [attach],
  detach: [detach],
  ls: [ls],
  check: [check],
  inspect: [inspect],
  route: [route],
  rule: [rule],
  tc: [tc],
  host: [host, hostBootstrap],
  hosts: [hosts],
  net: [net],
  nets: [nets],
  agent: [agent],
  controller: [controller, controllerMigrate, hostBootstrap],
  lab: [lab],
  mesh: [mesh],
  cni: [cni],
  topology: [topology],
  config: [config],
  events: [events],
  version: [version],
  completion: ALL_COMMANDS, // the completion scripts describe every command
};

/** The modules to register for these arguments (process.argv without node and the script). */
export function commandModules(args: readonly string[]): readonly CommandModule[] {
  const word = commandWord(args);
  return (
    (word !== undefined && Object.hasOwn(COMMAND_MODULES, word) ? COMMAND_MODULES[word] : undefined) ?? ALL_COMMANDS
  );
}
