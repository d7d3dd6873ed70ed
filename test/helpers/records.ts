// An agent's attachment record as the unit tests need one: a bridge veth in `c` with one static
// address, its saved order, state up.
import type { AttachmentRecord } from '../../agent/attach/records.js';
import type { ContainerInfo } from '../../agent/containers/types.js';

export function attachmentRecord(c: ContainerInfo, ifname = 'eth1'): AttachmentRecord {
  const key = `${c.runtime}:${c.id}/${ifname}`;
  return {
    key,
    attachmentId: key,
    fingerprint: 'fp',
    container: c,
    ifname,
    hostIfname: 'fnabc',
    hostIf: 'br0',
    kind: 'bridge',
    mac: '02:00:00:00:00:01',
    addresses: ['10.0.0.2/24'],
    gateways: [],
    mtu: 1500,
    vlan: '',
    createdHostIf: false,
    replacedDefaults: [],
    createdAtMs: 0,
    order: { hostIf: 'br0', ifname, addresses: ['10.0.0.2/24'], mac: '' },
    state: 'up',
  };
}
