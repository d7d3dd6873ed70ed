// Taking attachments apart, each under its record's key (one writer per attachment): a detach asked
// for, a release (the container is gone for good), and what a restarted or vanished container left on
// the host. The Attacher's public detach/release run these.
import { existsSync } from 'node:fs';
import type { KeyedQueue } from '../../common/keyed-queue.js';
import { removeHostSide } from '../lifecycle/host-claim.js';
import type { AttacherDeps } from './attacher-contract.js';
import { defaultsToRestore, handDownDefaults, restoreDefaults } from './default-routes.js';
import { findForDetach } from './find-records.js';
import { KINDS } from './kinds/index.js';
import { removeUnrecordedOvsPorts } from './kinds/ovs.js';
import type { KindEnv } from './kinds/types.js';
import type { DetachOrder } from './order.js';
import { ownedOf } from './ownership.js';
import type { AttachmentRecord } from './records.js';

export interface Removal {
  d: AttacherDeps;
  env: KindEnv;
  queue: KeyedQueue;
}

/** Every recorded attachment the order names: its interface, DHCP client, default routes, owned bridges. */
export async function detachRecords(x: Removal, order: DetachOrder): Promise<{ removed: boolean }> {
  const { d, env } = x;
  const matches = await findForDetach(d.records, d.resolver, order);
  let removed = false;
  for (const r of matches) {
    await x.queue.run(r.key, async () => {
      const now = d.records.get(r.key); // its saved defaults as another detach may have handed them down
      if (!now) return;
      // DHCPRELEASE needs the interface: stop the client before the link goes.
      await d.dhcp?.stop(r.key, { release: true, reason: 'detach' });
      // Only the default that goes through this interface now is put back: not one a later attach replaced.
      const restore = existsSync(now.container.netns) ? await defaultsToRestore(d.runner, now) : [];
      await KINDS[now.kind].remove(env, now);
      if (restore.length) await restoreDefaults(d.runner, d.log, now.container.netns, restore);
      handDownDefaults(d.records, now);
      d.records.delete(r.key);
      removed = true;
    });
    for (const ref of ownedOf(r)) await env.releaseOwned(ref);
  }
  if (!matches.length && d.ovsDb) removed = await removeUnrecordedOvsPorts(env, order.target.value, order.ifname);
  return { removed };
}

/**
 * The container is gone for good (removed): everything this attachment holds on the host goes —
 * DHCP client (lease released), host-side veth or OVS port, owned bridges with their last user —
 * and the record. The container's side went with its namespace; nothing is run inside a namespace
 * that may by now belong to another process.
 */
export async function releaseRecord(x: Removal, key: string, reason: string): Promise<boolean> {
  const { d, env } = x;
  const r = d.records.get(key);
  if (!r) return false;
  await x.queue.run(key, async () => {
    if (!d.records.get(key)) return;
    await d.dhcp?.stop(key, { release: true, reason });
    if (r.hostIfname && (r.kind === 'bridge' || r.kind === 'ovs'))
      await removeHostSide(env, r.kind, r.hostIf, r.hostIfname);
    d.records.delete(key);
  });
  for (const ref of ownedOf(r)) await env.releaseOwned(ref);
  d.log.info({ key, container: r.container.name, ifname: r.ifname, reason }, 'released');
  return true;
}

/**
 * A record whose interface is gone (the container restarted): what is left of it on the host goes.
 * Runs inside the attach that makes it again (already under the key).
 */
export async function dropStale(x: Removal, r: AttachmentRecord): Promise<void> {
  await x.d.dhcp?.stop(r.key, { release: false, reason: 'container restarted' });
  if (r.hostIfname && (r.kind === 'bridge' || r.kind === 'ovs'))
    await removeHostSide(x.env, r.kind, r.hostIf, r.hostIfname);
  // The record stays until the attach makes it again: a failure leaves it (failed) for the retry.
}

/**
 * The container of a DHCP attachment is gone: its host peer goes too, at once, instead of whenever
 * the kernel frees the namespace (another mount namespace may still hold it). The record stays,
 * so a later detach succeeds as CNI DEL does. `containerGone` reads it live (Attacher.liveState).
 */
export async function dropHostPeer(
  x: Removal,
  key: string,
  containerGone: (r: AttachmentRecord) => boolean,
): Promise<void> {
  await x.queue.run(key, async () => {
    const r = x.d.records.get(key);
    // Made again meanwhile (the container restarted and its start re-applied it): that peer is the new one's.
    if (r?.hostIfname && !containerGone(r)) return;
    if (r?.hostIfname) await x.d.runner.run('ip', ['link', 'del', r.hostIfname], { allowFail: true });
  });
}
