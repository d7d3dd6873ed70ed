// Which certificate serials were issued to which host, so removing a host revokes every one.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseHostId } from '../../common/pki/identity.js';
import { writeSecureFile } from '../../common/pki/keys.js';

export interface IssuedRecord {
  serial: string;
  notAfterMs: number;
  atMs: number;
}

export interface IssuedCertsStore {
  record(hostId: string, rec: IssuedRecord): void;
  list(hostId: string): IssuedRecord[];
  forget(hostId: string): void;
}

export class FileIssuedCerts implements IssuedCertsStore {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
  private file(hostId: string): string {
    return join(this.dir, `${parseHostId(hostId)}.json`);
  }
  record(hostId: string, rec: IssuedRecord): void {
    writeSecureFile(this.file(hostId), JSON.stringify([...this.list(hostId), rec], null, 1), 0o600);
  }
  list(hostId: string): IssuedRecord[] {
    const f = this.file(hostId);
    return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as IssuedRecord[]) : [];
  }
  forget(hostId: string): void {
    rmSync(this.file(hostId), { force: true });
  }
}
