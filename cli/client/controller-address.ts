// Where the controller is: --controller, else FLEETNET_CONTROLLER, else ~/.config/fleetnet/config.yaml
// (`controller: ADDR:PORT`), else none (the CLI talks to the local agent). --local forces the agent.
// Light on purpose (no gRPC): every command that may go either way reads it first.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { invalid } from '../../common/errors.js';

export interface ControllerChoice {
  addr: string;
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

export function normaliseControllerAddr(s: string, from: string): string {
  const v = s.trim();
  if (/^unix:\/[^\s]*$/.test(v)) return v; // a controller on this machine, by its socket
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(v)) throw invalid(`controller address '${s}' (from ${from}) is not HOST[:PORT]`, 'for example --controller 10.99.0.2:7440');
  return /:\d+$/.test(v) ? v : `${v}:7440`;
}

export function chooseController(g: { controller?: string; local?: boolean }, env: NodeJS.ProcessEnv = process.env): ControllerChoice | undefined {
  if (g.local) return undefined;
  if (g.controller) return { addr: normaliseControllerAddr(g.controller, '--controller'), from: '--controller' };
  if (env.FLEETNET_CONTROLLER) return { addr: normaliseControllerAddr(env.FLEETNET_CONTROLLER, 'FLEETNET_CONTROLLER'), from: 'FLEETNET_CONTROLLER' };
  const file = configFilePath(env);
  const c = controllerFromConfig(file);
  return c ? { addr: normaliseControllerAddr(c, file), from: file } : undefined;
}

/** For commands that only a controller can answer (host, net, inspect). */
export function requireController(g: { controller?: string; local?: boolean }, what: string): ControllerChoice {
  const c = chooseController({ ...g, local: false });
  if (!c) throw invalid(`${what} needs a controller`, 'give --controller ADDR:PORT, set FLEETNET_CONTROLLER, or put `controller: ADDR:PORT` in ~/.config/fleetnet/config.yaml');
  if (g.local) throw invalid(`${what} is answered by the controller, not the local agent`, 'leave out --local');
  return c;
}
