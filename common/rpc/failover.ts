// A grpc-js client on the first of several controller addresses that accepts a connection (the
// agent's side of several controllers; the CLI's is cli/client/grpc-h2.ts). Only the connection is
// tried in turn: a call is made once, on the connected client, so nothing is ever sent twice.
import type { Client } from '@grpc/grpc-js';
import { FleetnetError } from '../errors.js';
import { parseControllerList } from './controller-addresses.js';

/** The first address (in order) whose client connects within its share of timeoutMs. */
export async function connectFirstLive<C extends Client>(
  addrs: string,
  make: (addr: string) => C,
  timeoutMs: number,
  from = 'the controller address',
): Promise<{ client: C; addr: string }> {
  const list = parseControllerList(addrs, from);
  const until = Date.now() + timeoutMs;
  const failures: string[] = [];
  for (const [i, addr] of list.entries()) {
    const client = make(addr);
    // each address gets an equal share of what is left, so a dead first one cannot use it all
    const share = Math.max(1, Math.floor((until - Date.now()) / (list.length - i)));
    const err = await new Promise<Error | undefined>((resolve) =>
      client.waitForReady(Date.now() + share, (e) => resolve(e ?? undefined)),
    );
    if (!err) return { client, addr };
    client.close();
    failures.push(`${addr}: ${err.message}`);
  }
  throw new FleetnetError('unavailable', `no controller answers at ${list.join(', ')}`, {
    cause: new Error(failures.join('; ')),
    hint: 'check that a controller runs at one of these addresses and that this host reaches it',
  });
}
