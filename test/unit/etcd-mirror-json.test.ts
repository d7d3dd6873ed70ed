// The etcd mirror's inventory JSON (`ls --json` on etcd): by host then id, as the SQLite store
// orders it, kept per host, and right after every kind of change (a record rewritten, moved to
// another host, removed; a host's last attachment gone).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { keys } from '../../controller/store/etcd/keys.js';
import { Mirror } from '../../controller/store/etcd/mirror.js';
import type { AttachmentRecord } from '../../controller/store/types.js';

function record(id: string, host: string, net = 'n', state = 'up'): AttachmentRecord {
  return {
    id,
    host,
    net,
    target: { kind: 'netns', value: `c-${id}` },
    ifname: 'eth1',
    hostIf: 'br-n',
    kind: 'bridge',
    mac: '02:00:00:00:00:01',
    macScheme: 'auto',
    macSource: 'generated',
    addresses: [{ cidr: '10.1.1.2/24' }],
    other: [],
    vlan: '',
    mtu: 1500,
    desired: 'present',
    state,
    error: '',
    generation: 1,
    hostIfname: '',
    reportedAddresses: [],
    requestFp: '',
    createdMs: 0,
    updatedMs: 0,
  } as AttachmentRecord;
}

let rev = 0;
const put = (m: Mirror, a: AttachmentRecord) => m.apply(keys.att(a.id), JSON.stringify(a), ++rev);
const del = (m: Mirror, id: string) => m.apply(keys.att(id), undefined, ++rev);
const listed = (json: string) => (JSON.parse(json) as { id: string; host: string; state: string }[]).map((x) => x);
const ids = (json: string) => listed(json).map((x) => `${x.host}:${x.id}`);

test('the inventory JSON is ordered by host then id and follows every change', () => {
  const m = new Mirror();
  for (const [id, host] of [
    ['fa-c', 'h2'],
    ['fa-a', 'h2'],
    ['fa-b', 'h1'],
    ['fa-d', 'h10'],
  ] as const)
    put(m, record(id, host));
  assert.deepEqual(ids(m.attachmentsJson()), ['h1:fa-b', 'h10:fa-d', 'h2:fa-a', 'h2:fa-c']);
  assert.equal(m.attachmentsJson(), m.attachmentsJson(), 'the same text while nothing changes');
  // Rewritten in place: the new value shows.
  put(m, record('fa-a', 'h2', 'n', 'failed'));
  assert.equal(listed(m.attachmentsJson()).find((x) => x.id === 'fa-a')!.state, 'failed');
  // Moved to another host: gone from the old host's part, in the new one's.
  put(m, record('fa-c', 'h1'));
  assert.deepEqual(ids(m.attachmentsJson()), ['h1:fa-b', 'h1:fa-c', 'h10:fa-d', 'h2:fa-a']);
  assert.deepEqual(ids(m.attachmentsJson({ host: 'h2' })), ['h2:fa-a']);
  assert.deepEqual(ids(m.attachmentsJson({ host: 'h1' })), ['h1:fa-b', 'h1:fa-c']);
  // A host's last attachment removed: no empty part, no stray comma.
  del(m, 'fa-d');
  assert.deepEqual(ids(m.attachmentsJson()), ['h1:fa-b', 'h1:fa-c', 'h2:fa-a']);
  assert.equal(m.attachmentsJson({ host: 'h10' }), '[]');
  assert.equal(m.attachmentsJson({ host: 'nope' }), '[]');
  del(m, 'fa-b');
  del(m, 'fa-c');
  del(m, 'fa-a');
  assert.equal(m.attachmentsJson(), '[]');
  // The network filter keeps the same order.
  put(m, record('fa-x', 'h2', 'other'));
  put(m, record('fa-y', 'h1', 'other'));
  put(m, record('fa-z', 'h1', 'n'));
  assert.deepEqual(ids(m.attachmentsJson({ net: 'other' })), ['h1:fa-y', 'h2:fa-x']);
});
