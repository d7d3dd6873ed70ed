// Several controllers, one fleet: each host's dispatch runs on the one controller that owns it
// (a lease in the shared store: controller/store/etcd/host-leases.ts). This module joins the
// store's ownership and its remote changes to the dispatcher; the dispatcher itself only asks
// `owns(host)` before a pass (its one hook) and offers `notify(id)` to wake waiting requests.
import type { Logger } from 'pino';
import type { HostOwnership, SharedStore, Store } from '../store/store.js';
import type { Dispatcher } from './dispatcher.js';

export async function startOwnedDispatch(store: Store & SharedStore, own: HostOwnership, d: Dispatcher, log: Logger): Promise<void> {
  // An attachment changed through another controller: its host's owner converges it, and a request
  // waiting here for it (FleetAttach with wait) hears when the owner marked it up.
  store.onRemoteChange((c) => {
    if (c.kind === 'attachment') {
      if (c.host) d.kick(c.host, { id: c.name });
      d.notify(c.name);
    } else d.kick(c.host);
  });
  await own.start({
    gained: (host) => d.kick(host, { force: true }),
    lost: (host) => {
      log.info({ host }, 'another controller dispatches to this host now');
      d.forget(host);
    },
  });
}
