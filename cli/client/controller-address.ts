// Where the controller is: --controller, else FLEETNET_CONTROLLER, else the CLI's settings file
// (~/.config/fleetnet/config.yaml: the chosen context's controllers, or `controller: ADDR:PORT`),
// else none (the CLI talks to the local agent). --local forces the agent.
// Each may name several controllers of one fleet, comma-separated (`a:7440,b:7440,c:7440`): the
// client uses the first that answers (cli/client/grpc-h2.ts).
// Light on purpose (no gRPC): every command that may go either way reads it first.
import { existsSync } from 'node:fs';
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

/** The CLI's settings file: --config, else FLEETNET_CONFIG, else ~/.config/fleetnet/config.yaml. */
export function configFilePath(
  env: NodeJS.ProcessEnv = process.env,
  explicit?: string,
): { path: string; explicit: boolean } {
  if (explicit) return { path: explicit, explicit: true };
  if (env.FLEETNET_CONFIG) return { path: env.FLEETNET_CONFIG, explicit: true };
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return { path: join(base, 'fleetnet', 'config.yaml'), explicit: false };
}

export interface GlobalChoice {
  controller?: string;
  local?: boolean;
  /** --config: the CLI's settings file. */
  config?: string;
  /** --context: a context of that file. */
  context?: string;
}

/**
 * The settings file, read (yaml and zod are loaded only now that a file exists); undefined when
 * the default file is absent. A file named by --config or FLEETNET_CONFIG must exist.
 */
export async function loadCliConfig(g: GlobalChoice, env: NodeJS.ProcessEnv = process.env) {
  const f = configFilePath(env, g.config);
  if (!existsSync(f.path)) {
    if (f.explicit) {
      throw invalid(
        `config file ${f.path} does not exist`,
        'give the path of an existing YAML file to --config (or FLEETNET_CONFIG)',
      );
    }
    return undefined;
  }
  const { readCliConfig } = await import('./cli-config-check.js');
  return readCliConfig(f.path);
}

function choice(s: string, from: string): ControllerChoice {
  const addrs = parseControllerList(s, from);
  return { addr: addrs.join(','), addrs, from };
}

/**
 * Flags, then environment, then the settings file: --controller, FLEETNET_CONTROLLER, a context
 * (--context, FLEETNET_CONTEXT, current-context), `controller:`.
 */
export async function chooseController(
  g: GlobalChoice,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ControllerChoice | undefined> {
  if (g.local) return undefined;
  if (g.controller) return choice(g.controller, '--controller');
  if (env.FLEETNET_CONTROLLER) return choice(env.FLEETNET_CONTROLLER, 'FLEETNET_CONTROLLER');
  const context = g.context
    ? { name: g.context, from: '--context' }
    : env.FLEETNET_CONTEXT
      ? { name: env.FLEETNET_CONTEXT, from: 'FLEETNET_CONTEXT' }
      : undefined;
  const cfg = await loadCliConfig(g, env);
  if (!cfg) {
    if (context) {
      throw invalid(
        `${context.from} ${context.name} names a context, but there is no config file`,
        `make ${configFilePath(env, g.config).path} with contexts: (see "Configuration files" in the README)`,
      );
    }
    return undefined;
  }
  const { controllersFromFile } = await import('./cli-config-check.js');
  const c = controllersFromFile(cfg, context);
  return c ? choice(c.addrs, c.from) : undefined;
}

/** For commands that only a controller can answer (host, net, inspect). */
export async function requireController(g: GlobalChoice, what: string): Promise<ControllerChoice> {
  const c = await chooseController({ ...g, local: false });
  if (!c) {
    throw invalid(
      `${what} needs a controller`,
      'give --controller ADDR:PORT, set FLEETNET_CONTROLLER, or name one in ' +
        '~/.config/fleetnet/config.yaml (a context, see "Configuration files" in the README)',
    );
  }
  if (g.local) throw invalid(`${what} is answered by the controller, not the local agent`, 'leave out --local');
  return c;
}
