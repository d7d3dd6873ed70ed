// Which certificate serials were issued to which host, so removing a host revokes every one; and to
// which CLI user, under the subject `cli:<user>` (no host id has a colon), so cli-revoke does too.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { normalizeSerial, parseCliUser, parseHostId } from '../../common/pki/identity.js';
import { writeSecureFile } from '../../common/pki/keys.js';

const CLI = 'cli:';

/** The records' subject of a CLI user's credentials. */
export const cliSubject = (user: string): string => CLI + parseCliUser(user);

/** The CLI user a records' subject names, or undefined for a host's. */
export const cliUserOf = (subject: string): string | undefined =>
  subject.startsWith(CLI) ? subject.slice(CLI.length) : undefined;

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
  /** The subject a serial is on record for (a host id or cliSubject(user)), if any. */
  ownerOf(serial: string): string | undefined;
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
  ownerOf(serial: string): string | undefined {
    const want = normalizeSerial(serial);
    for (const f of readdirSync(this.dir).filter((n) => n.endsWith('.json'))) {
      const subject = f.slice(0, -'.json'.length);
      if (this.list(subject).some((r) => normalizeSerial(r.serial) === want)) return subject;
    }
    return undefined;
  }
}
