// The supervisor's record of each DHCP client on disk (`<stateDir>/dhcp/<key>/client.json`), so an
// agent that restarts finds its clients again.
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { ClientRecord } from './types.js';

/** Every readable record under root, with its folder; unreadable ones are skipped. */
export function readClientRecords(root: string): { dir: string; rec: ClientRecord }[] {
  return readdirSync(root).flatMap((name) => {
    const dir = `${root}/${name}`;
    try {
      return [{ dir, rec: JSON.parse(readFileSync(`${dir}/client.json`, 'utf8')) as ClientRecord }];
    } catch {
      return [];
    }
  });
}

/** Writes the record atomically; nothing when its folder was removed (the client was reaped). */
export function saveClientRecord(dir: string, rec: ClientRecord): void {
  const f = `${dir}/client.json`;
  if (!existsSync(dir)) return;
  writeFileSync(`${f}.tmp`, JSON.stringify(rec, null, 1), { mode: 0o600 });
  renameSync(`${f}.tmp`, f);
}
