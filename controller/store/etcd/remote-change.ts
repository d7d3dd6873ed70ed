// What a key another controller wrote (seen through the mirror's watch) means to this controller
// (SharedStore.onRemoteChange): an attachment (and the host it is or was on), a host (and whether only
// its counters moved), or a network.
import type { RemoteChange } from '../store.js';
import type { HostRecord } from '../types.js';
import { ATTS, HOSTS, NETS, nameOf } from './keys.js';

/** k's change from old to v (undefined: deleted); attachmentHost: the host of a stored attachment. */
export function remoteChangeOf(
  k: string,
  v: string | undefined,
  old: string | undefined,
  attachmentHost: (id: string) => string | undefined,
): RemoteChange | undefined {
  if (k.startsWith(ATTS)) {
    const id = nameOf(k, ATTS);
    if (v !== undefined) return { kind: 'attachment', name: id, host: attachmentHost(id) ?? '' };
    return { kind: 'attachment', name: id, host: old ? (JSON.parse(old) as { host: string }).host : '', gone: true };
  }
  if (k.startsWith(HOSTS)) {
    const name = nameOf(k, HOSTS);
    return { kind: 'host', name, host: name, ...(countersOnly(old, v) ? { countersOnly: true } : {}) };
  }
  if (k.startsWith(NETS)) return { kind: 'network', name: nameOf(k, NETS), host: '' };
  return undefined;
}

/** Fields of a host record that change with its attachments and its passes, not with what the host is. */
const COUNTERS = ['generation', 'observedGeneration', 'lastSeenMs'] as const;

/** Both versions of a host record differ in COUNTERS only. */
function countersOnly(old: string | undefined, v: string | undefined): boolean {
  if (old === undefined || v === undefined) return false;
  const a = JSON.parse(old) as HostRecord;
  const b = JSON.parse(v) as HostRecord;
  for (const f of COUNTERS) b[f] = a[f];
  return JSON.stringify(a) === JSON.stringify(b);
}
