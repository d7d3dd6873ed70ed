// The store tests, run again against the etcd store: one etcd member on loopback ports (its own
// data dir, removed at the end), each test on a key prefix of its own. Not root-only, but it
// starts a server process, so it lives with the privileged tests.
import { after } from 'node:test';
import { useEtcdStores } from '../helpers/controller-store.js';
import { startTestEtcd } from '../helpers/etcd.js';

const etcd = await startTestEtcd(1);
after(() => etcd.stop());
useEtcdStores(etcd.urls);

await import('../unit/controller-ipam.test.js');
await import('../unit/controller-dispatch.test.js');
await import('../unit/dispatch-passes.test.js');
