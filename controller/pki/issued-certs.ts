// Which certificate serials were issued to which host, so removing a host revokes every one; and to
// which CLI user, under the subject `cli:<user>` (no host id has a colon), so cli-revoke does too.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseHostId } from '../../common/pki/identity.js';
import { writeSecureFile } from '../../common/pki/keys.js';

const CLI = 'cli:';

/** The records' subject of a CLI user's credentials. */
export const cliSubject = (user: string): string => CLI + parseHostId(user);

/** A host id, or `cli:` and a user name (checked as a host id is: it is a file and key name). */
function parseSubject(s: string): string {
  return s.startsWith(CLI) ? cliSubject(s.slice(CLI.length)) : parseHostId(s);
}

export interface IssuedRecord {
  serial: string;
  notAfterMs: number;
  atMs: number;
}

/** Keyed by host id, or by cliSubject(user). */
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
    return join(this.dir, `${parseSubject(hostId)}.json`);
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
