// Controller addresses as the CLI and the agents take them: HOST[:PORT] (port 7440 by default),
// [V6]:PORT, or unix:/path; several controllers of one fleet comma-separated, tried in order.
import { DEFAULT_CONTROLLER_PORT } from '../defaults.js';
import { invalid } from '../errors.js';

export function normaliseControllerAddr(s: string, from: string): string {
  const v = s.trim();
  if (/^unix:\/[^\s,]*$/.test(v)) return v; // a controller on this machine, by its socket
  if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(v))
    throw invalid(
      `controller address '${s}' (from ${from}) is not HOST[:PORT]`,
      'for example --controller 10.99.0.2:7440 (several: 10.99.0.2:7440,10.99.0.3:7440)',
    );
  return /:\d+$/.test(v) ? v : `${v}:${DEFAULT_CONTROLLER_PORT}`;
}

/** `a:7440,b,c:7441` → each address normalised; an empty item or a repeated one is refused. */
export function parseControllerList(s: string, from: string): string[] {
  const addrs = s.split(',').map((x) => normaliseControllerAddr(x, from));
  const twice = addrs.find((a, i) => addrs.indexOf(a) !== i);
  if (twice) throw invalid(`controller address ${twice} is given twice (from ${from})`, 'name each controller once');
  return addrs;
}
