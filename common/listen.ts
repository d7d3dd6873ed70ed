// Where a daemon serves gRPC (`controller run --listen`, `agent run --listen`): checked with the
// settings, before anything starts, so that a mistake is exit 2 naming it, not a bind that fails
// (or binds grpc's default port 443) after the store opened or the join token was spent.
import { z } from 'zod';
import { tryParseAddr } from './ip.js';

const EXAMPLES = 'e.g. 10.99.0.2:7440, [fd00::2]:7440, 0.0.0.0:7440 or unix:/run/fleetnet/ctl.sock';
const DNS_NAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** What is wrong with a listen address (ADDR:PORT, [V6]:PORT, NAME:PORT, unix:PATH), or undefined. */
export function listenProblem(s: string): string | undefined {
  if (/^unix:(\/\/)?\/\S*$/.test(s)) return undefined;
  if (s.startsWith('unix:')) return `'${s}' is not unix:/ABSOLUTE/PATH`;
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(s);
  if (!m) return `'${s}' is not ADDR:PORT (${EXAMPLES})`;
  const [, v6, host, port] = m;
  if (Number(port) > 65535) return `port ${port} of '${s}' is not a TCP port (0-65535)`;
  if (v6 !== undefined ? tryParseAddr(v6)?.family !== 6 : !tryParseAddr(host!) && !DNS_NAME.test(host!))
    return `'${s}': '${v6 ?? host}' is not an IP address or a host name (${EXAMPLES})`;
  return undefined;
}

/** A settings field (zod) that takes a listen address. */
export const listenSetting = () =>
  z.string().superRefine((s, ctx) => {
    const why = listenProblem(s);
    if (why) ctx.addIssue({ code: 'custom', message: why });
  });
