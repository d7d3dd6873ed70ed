// Several controllers, one fleet: each host's dispatch and mesh pushes run on the one controller
// that owns it (a lease in the shared store: controller/store/etcd/host-leases.ts). This module
// joins the store's ownership and its remote changes to the dispatcher and the mesh pusher; each
// only asks `owns(host)` before it acts (the dispatcher also offers `notify(id)` to wake waiting
// requests). A mesh change another controller took reaches the owners through the watch.
import type { Logger } from 'pino';
import type { HostOwnership, SharedStore, Store } from '../store/store.js';
import type { MeshPusher } from '../mesh/push.js';
import type { Dispatcher } from './dispatcher.js';

export async function startOwnedDispatch(
  store: Store & SharedStore,
  own: HostOwnership,
  d: Dispatcher,
  mesh: MeshPusher,
  log: Logger,
): Promise<void> {
  // An attachment changed through another controller: its host's owner converges it, and a request
  // waiting here for it (FleetAttach with wait) hears when the owner marked it up.
  // A host record whose counters alone moved (the generation of an attachment change, which comes with
  // that change) needs no full pass: the attachment's own event kicks a targeted one. A removed
  // attachment gets a full pass (its interface, if any, goes as one no attachment wants).
  store.onRemoteChange((c) => {
    if (c.kind === 'attachment') {
      if (c.host) d.kick(c.host, c.gone ? {} : { id: c.name });
      d.notify(c.name);
    } else if (c.kind === 'host') {
      if (c.countersOnly) return;
      d.kick(c.host);
      mesh.resyncSoon();
    } else mesh.resyncSoon();
  });
  await own.start({
    gained: (host) => {
      d.kick(host, { force: true });
      mesh.resyncSoon();
    },
    lost: (host) => {
      log.info({ host }, 'another controller dispatches to this host now');
      d.forget(host);
      mesh.forget(host);
    },
  });
}
