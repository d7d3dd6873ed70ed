// A fresh store for a test, removed after it: a SQLite file in a temporary folder, or, when the
// file runs under the etcd variant (test/privileged/store-on-etcd.test.ts calls useEtcdStores), a
// fresh key prefix on a test etcd. Store tests are written once and run against both.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../common/logger.js';
import type { EtcdStore } from '../../controller/store/etcd/etcd-store.js';
import { SqliteStore } from '../../controller/store/sqlite.js';
import type { Store, Tx } from '../../controller/store/store.js';
import type { AttachmentFilter } from '../../controller/store/types.js';

let etcdUrls: string[] | undefined;
let seq = 0;

/** From now on, tempStore() gives etcd stores on these members. */
export function useEtcdStores(urls: string[]): void {
  etcdUrls = urls;
}

export const storeKind = (): 'sqlite' | 'etcd' => (etcdUrls ? 'etcd' : 'sqlite');

/** A Store whose etcd connection opens in the background: tempStore stays synchronous for the tests. */
class OpeningStore implements Store {
  readonly description: string;
  private store: EtcdStore | undefined;
  constructor(
    readonly opened: Promise<EtcdStore>,
    prefix: string,
  ) {
    this.description = `etcd (test prefix ${prefix})`;
    opened.then(
      (s) => (this.store = s),
      () => undefined,
    );
  }
  attachmentsVersion(host: string): number | undefined {
    return this.store?.attachmentsVersion(host);
  }
  async transact<T>(fn: (tx: Tx) => T): Promise<T> {
    return (await this.opened).transact(fn);
  }
  async read<T>(fn: (tx: Tx) => T): Promise<T> {
    return (await this.opened).read(fn);
  }
  async attachmentsJson(f?: AttachmentFilter): Promise<string> {
    return (await this.opened).attachmentsJson(f);
  }
  close(): void {
    void this.opened.then(
      (s) => s.close(),
      () => undefined,
    );
  }
}

export async function openEtcdStore(prefix: string): Promise<EtcdStore> {
  const { EtcdStore } = await import('../../controller/store/etcd/etcd-store.js');
  return EtcdStore.open({ urls: etcdUrls!, prefix, log: silentLogger() });
}

export interface TempStore {
  store: Store;
  dir: string;
  path: string;
  /** The same state opened again (after store.close()), as a restarted controller would. */
  reopen(): Promise<Store>;
}

export function tempStore(t: { after(fn: () => void | Promise<void>): void }): TempStore {
  const dir = mkdtempSync(join(tmpdir(), 'fleetnet-ctl-'));
  const path = join(dir, 'state.db');
  const opened: Store[] = [];
  let store: Store;
  let reopen: () => Promise<Store>;
  if (etcdUrls) {
    const prefix = `/fleetnet-test-${process.pid}-${++seq}/`;
    store = new OpeningStore(openEtcdStore(prefix), prefix);
    reopen = async () => {
      const s = await openEtcdStore(prefix);
      opened.push(s);
      return s;
    };
    t.after(async () => {
      for (const s of [store, ...opened]) s.close();
      const { Etcd3 } = await import('etcd3');
      const c = new Etcd3({ hosts: etcdUrls! });
      await c.delete().prefix(prefix);
      c.close();
      rmSync(dir, { recursive: true, force: true });
    });
  } else {
    store = new SqliteStore({ path });
    reopen = async () => {
      const s = new SqliteStore({ path });
      opened.push(s);
      return s;
    };
    t.after(() => {
      for (const s of [store, ...opened]) s.close();
      rmSync(dir, { recursive: true, force: true });
    });
  }
  return { store, dir, path, reopen };
}
