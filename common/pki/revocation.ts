// Revoked certificate serials. grpc-js takes no CRL, so every call checks the peer's serial
// here; the check is synchronous and served from memory.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { normalizeSerial } from './identity.js';
import { writeSecureFile } from './keys.js';

export interface RevokedEntry {
  serial: string;
  name: string;
  atMs: number;
  reason: string;
}

export interface RevocationStore {
  isRevoked(serial: string): boolean;
  revoke(e: Omit<RevokedEntry, 'atMs' | 'serial'> & { serial: string }): void;
  list(): RevokedEntry[];
}

export class MemoryRevocationStore implements RevocationStore {
  protected entries = new Map<string, RevokedEntry>();
  isRevoked(serial: string): boolean {
    return this.entries.has(normalizeSerial(serial));
  }
  revoke(e: { serial: string; name: string; reason: string }): void {
    const serial = normalizeSerial(e.serial);
    if (!this.entries.has(serial)) this.entries.set(serial, { ...e, serial, atMs: Date.now() });
  }
  list(): RevokedEntry[] {
    return [...this.entries.values()];
  }
}

/**
 * A JSON file (revoked.json in the controller's folder). Reloaded when its mtime changes, so a
 * `fleetnet host rm` in another process takes effect on the next call.
 */
export class FileRevocationStore extends MemoryRevocationStore {
  private mtimeMs = -1;
  constructor(private readonly path: string) {
    super();
    this.reload();
  }
  private reload(): void {
    if (!existsSync(this.path)) return;
    const m = statSync(this.path).mtimeMs;
    if (m === this.mtimeMs) return;
    const list = JSON.parse(readFileSync(this.path, 'utf8')) as RevokedEntry[];
    this.entries = new Map(list.map((e) => [normalizeSerial(e.serial), e]));
    this.mtimeMs = m;
  }
  override isRevoked(serial: string): boolean {
    this.reload();
    return super.isRevoked(serial);
  }
  override revoke(e: { serial: string; name: string; reason: string }): void {
    this.reload();
    super.revoke(e);
    writeSecureFile(this.path, JSON.stringify(this.list(), null, 1), 0o644);
    this.mtimeMs = statSync(this.path).mtimeMs;
  }
  override list(): RevokedEntry[] {
    this.reload();
    return super.list();
  }
}
