// A host as `host add` registers it — its name, its agent's TCP endpoint and its underlay IPv4 — checked once:
// the CLI runs it before it connects (bad input exits 2 whether or not a controller answers) and the
// controller's addHost runs it on what it receives.
import { FleetnetError, invalid } from './errors.js';
import { parseAddr } from './ip.js';

const DEFAULT_AGENT_PORT = 7441;
const HOST_RE = /^[a-z0-9][a-z0-9.-]{0,62}$/i;

export function parseHostName(name: string): string {
  if (!HOST_RE.test(name))
    throw invalid(
      `host name '${name}' is not valid`,
      'use lower-case letters, digits, - and . (a DNS name, up to 63 characters), e.g. h3 or web-1.dc2',
    );
  return name;
}

/** `IP`, `IP:PORT`, `[v6]:PORT` → normalised `ADDR:PORT` and the IP. */
export function parseAgentAddr(s: string): { addr: string; ip: string } {
  let host = s;
  let port = DEFAULT_AGENT_PORT;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (v6) {
    host = v6[1]!;
    if (v6[2]) port = Number(v6[2]);
  } else if ((s.match(/:/g) ?? []).length === 1) {
    const [h, p] = s.split(':') as [string, string];
    host = h;
    if (!/^\d{1,5}$/.test(p)) throw invalid(`port '${p}' in '${s}' is not a number`);
    port = Number(p);
  }
  const ip = parseAddr(host, 'agent address');
  if (port < 1 || port > 65535) throw invalid(`port ${port} in '${s}' is out of range (1-65535)`);
  return { addr: ip.family === 6 ? `[${ip.text}]:${port}` : `${ip.text}:${port}`, ip: ip.text };
}

/** An agent's address given by a flag (`host add --listen`): normalised, or exit 2 naming the flag. */
export function agentAddrFlag(flag: string, value: string): string {
  try {
    return parseAgentAddr(value).addr;
  } catch (err) {
    throw new FleetnetError('invalid', `${flag} ${value}: ${(err as Error).message}`, {
      cause: err,
      hint: `the agent's IP address, and its port when not ${DEFAULT_AGENT_PORT}: e.g. ${flag} 10.99.0.13:7441`,
    });
  }
}

/** Name, normalised agent address and underlay IPv4 (default: the agent address's IP). */
export function checkHostInput(i: { name: string; agentAddr: string; underlayIp?: string }): {
  name: string;
  addr: string;
  underlay: string;
} {
  const name = parseHostName(i.name);
  const { addr, ip } = parseAgentAddr(i.agentAddr);
  const underlay = parseAddr(i.underlayIp || ip, 'underlay address');
  if (underlay.family !== 4)
    throw invalid(
      `underlay address ${underlay.text} is not IPv4`,
      "give --underlay with the host's IPv4 address (its MACs are derived from it)",
    );
  return { name, addr, underlay: underlay.text };
}
