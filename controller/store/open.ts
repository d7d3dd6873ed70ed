// Which store a controller runs on: the SQLite file (default, one controller) or etcd (--etcd,
// several controllers). The rest of the controller sees only the Store interface.
import type { Logger } from 'pino';
import type { ControllerConfig } from '../config.js';
import { SqliteStore } from './sqlite.js';
import type { Store } from './store.js';

export async function openStore(cfg: ControllerConfig, log: Logger): Promise<Store> {
  if (cfg.etcd) {
    const { EtcdStore } = await import('./etcd/etcd-store.js');
    return EtcdStore.open({ ...cfg.etcd, log: log.child({ part: 'store' }) });
  }
  return new SqliteStore({ path: cfg.db, synchronous: cfg.synchronous });
}
