// Where the controller is: --controller, else FLEETNET_CONTROLLER, else ~/.config/fleetnet/config.yaml
// (`controller: ADDR:PORT`), else none (the CLI talks to the local agent). --local forces the agent.
// Each may name several controllers of one fleet, comma-separated (`a:7440,b:7440,c:7440`): the
// client uses the first that answers (cli/client/grpc-h2.ts).
// Light on purpose (no gRPC): every command that may go either way reads it first.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { invalid } from '../../common/errors.js';
import { normaliseControllerAddr, parseControllerList } from '../../common/rpc/controller-addresses.js';

export { normaliseControllerAddr, parseControllerList };

export interface ControllerChoice {
  /** The addresses as given, normalised, comma-separated (for messages). */
  addr: string;
  /** Each controller's address, in the order to try them. */
  addrs: string[];
  from: string;
}

export function configFilePath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(base, 'fleetnet', 'config.yaml');
}

/** Reads `controller:` from the config file: a flat `key: value` subset of YAML is all it needs. */
export function controllerFromConfig(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const m = /^controller:\s*(?:"([^"]*)"|'([^']*)'|([^#\s]+))\s*(?:#.*)?$/.exec(raw.trimEnd());
    if (m) return m[1] ?? m[2] ?? m[3];
  }
  return undefined;
}

function choice(s: string, from: string): ControllerChoice {
  const addrs = parseControllerList(s, from);
  return { addr: addrs.join(','), addrs, from };
}

export function chooseController(g: { controller?: string; local?: boolean }, env: NodeJS.ProcessEnv = process.env): ControllerChoice | undefined {
  if (g.local) return undefined;
  if (g.controller) return choice(g.controller, '--controller');
  if (env.FLEETNET_CONTROLLER) return choice(env.FLEETNET_CONTROLLER, 'FLEETNET_CONTROLLER');
  const file = configFilePath(env);
  const c = controllerFromConfig(file);
  return c ? choice(c, file) : undefined;
}

/** For commands that only a controller can answer (host, net, inspect). */
export function requireController(g: { controller?: string; local?: boolean }, what: string): ControllerChoice {
  const c = chooseController({ ...g, local: false });
  if (!c) throw invalid(`${what} needs a controller`, 'give --controller ADDR:PORT, set FLEETNET_CONTROLLER, or put `controller: ADDR:PORT` in ~/.config/fleetnet/config.yaml');
  if (g.local) throw invalid(`${what} is answered by the controller, not the local agent`, 'leave out --local');
  return c;
}
