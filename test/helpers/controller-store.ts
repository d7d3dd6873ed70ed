// A fresh SQLite store in a temporary folder, removed after the test.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../controller/store/sqlite.js';

export function tempStore(t: { after(fn: () => void): void }): { store: SqliteStore; dir: string; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'fleetnet-ctl-'));
  const path = join(dir, 'state.db');
  const store = new SqliteStore({ path });
  t.after(() => {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { store, dir, path };
}
