// Single-use join tokens. Only a hash is stored; taking a token removes it atomically, so a
// token works once even when two enrollments race. The store is an interface so the
// controller's own store (SQLite: DELETE ... RETURNING) can hold them.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FleetnetError, invalid } from '../../common/errors.js';
import { parseHostId } from '../../common/pki/identity.js';

export interface JoinTokenRecord {
  /** sha256 of the token, hex. */
  hash: string;
  hostId: string;
  expiresAtMs: number;
}

export interface JoinTokenStore {
  put(rec: JoinTokenRecord): Promise<void>;
  /** The record, left in place; undefined if it is not (or no longer) there. */
  get(hash: string): Promise<JoinTokenRecord | undefined>;
  /** Removes and returns the record in one step; undefined if it is not (or no longer) there. */
  take(hash: string): Promise<JoinTokenRecord | undefined>;
  /** Drops records whose expiry has passed. */
  prune(nowMs: number): Promise<number>;
}

const TOKEN_PREFIX = 'fnj_';
const HASH = /^[0-9a-f]{64}$/;

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export class MemoryJoinTokenStore implements JoinTokenStore {
  private readonly recs = new Map<string, JoinTokenRecord>();
  async put(rec: JoinTokenRecord): Promise<void> {
    this.recs.set(rec.hash, { ...rec });
  }
  async get(hash: string): Promise<JoinTokenRecord | undefined> {
    const rec = this.recs.get(hash);
    return rec && { ...rec };
  }
  async take(hash: string): Promise<JoinTokenRecord | undefined> {
    const rec = this.recs.get(hash);
    this.recs.delete(hash); // same tick as the get: no await in between
    return rec;
  }
  async prune(nowMs: number): Promise<number> {
    let n = 0;
    for (const [h, r] of this.recs) if (r.expiresAtMs <= nowMs && this.recs.delete(h)) n++;
    return n;
  }
}

/**
 * One file per token in a 0700 folder. Taking renames the file away first: rename is atomic,
 * so of two processes taking the same token exactly one wins.
 */
export class FileJoinTokenStore implements JoinTokenStore {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
  async put(rec: JoinTokenRecord): Promise<void> {
    if (!HASH.test(rec.hash)) throw invalid('bad token hash');
    const tmp = join(this.dir, `.${rec.hash}.${process.pid}.tmp`);
    writeFileSync(tmp, JSON.stringify(rec), { mode: 0o600 });
    renameSync(tmp, join(this.dir, `${rec.hash}.json`));
  }
  async get(hash: string): Promise<JoinTokenRecord | undefined> {
    if (!HASH.test(hash)) return undefined;
    try {
      return JSON.parse(readFileSync(join(this.dir, `${hash}.json`), 'utf8')) as JoinTokenRecord;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }
  async take(hash: string): Promise<JoinTokenRecord | undefined> {
    if (!HASH.test(hash)) return undefined;
    const claimed = join(this.dir, `.${hash}.${process.pid}.${randomBytes(4).toString('hex')}.taken`);
    try {
      renameSync(join(this.dir, `${hash}.json`), claimed);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      return JSON.parse(readFileSync(claimed, 'utf8')) as JoinTokenRecord;
    } finally {
      rmSync(claimed, { force: true });
    }
  }
  async prune(nowMs: number): Promise<number> {
    let n = 0;
    for (const f of readdirSync(this.dir)) {
      if (!f.endsWith('.json')) continue;
      const rec = await this.take(f.slice(0, -5)).catch(() => undefined);
      if (!rec) continue;
      if (rec.expiresAtMs <= nowMs) n++;
      else await this.put(rec);
    }
    return n;
  }
}

export interface JoinTokensOptions {
  store: JoinTokenStore;
  ttlMs: number;
  now?: () => number;
}

export class JoinTokens {
  private readonly now: () => number;
  constructor(private readonly o: JoinTokensOptions) {
    this.now = o.now ?? Date.now;
  }

  /** A fresh token for one host; shown once, stored only as a hash. */
  async issue(hostId: string, ttlMs = this.o.ttlMs): Promise<{ token: string; expiresAtMs: number }> {
    parseHostId(hostId);
    if (!(ttlMs > 0))
      throw invalid(`join token lifetime ${ttlMs} ms is not positive`, 'give a lifetime above zero, e.g. 15m');
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const expiresAtMs = this.now() + ttlMs;
    await this.o.store.put({ hash: hashToken(token), hostId, expiresAtMs });
    return { token, expiresAtMs };
  }

  /**
   * Uses a token up for the host it was made for. Refuses unknown, used and expired tokens; one made
   * for another host is refused and left as it was (only an enrolment that succeeds uses it up), so
   * the agent can be started again with the right --host-name.
   */
  async consume(token: string, hostId: string): Promise<string> {
    const again = `get a new one where the CLI runs: fleetnet host token ${hostId} (the agent's --join-token-file)`;
    const refuse = (why: string, hint = again) =>
      new FleetnetError('permission', `join token refused: ${why}`, { hint });
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 100) throw refuse('not a fleetnet join token');
    const hash = hashToken(token);
    const seen = await this.o.store.get(hash);
    if (seen && seen.hostId !== hostId) {
      throw refuse(
        `it was made for host ${seen.hostId}, not ${hostId} (it is not used up)`,
        `start the agent with --host-name ${seen.hostId}, or get a token for ${hostId}: fleetnet host token ${hostId}`,
      );
    }
    const rec = seen && (await this.o.store.take(hash));
    if (!rec) throw refuse('unknown or already used');
    if (rec.expiresAtMs <= this.now()) throw refuse('expired');
    return rec.hostId;
  }

  /** Voids a token not used yet (a bootstrap that failed); false when it was not there (used, expired, unknown). */
  async drop(token: string): Promise<boolean> {
    if (!token.startsWith(TOKEN_PREFIX) || token.length > 100) return false;
    return (await this.o.store.take(hashToken(token))) !== undefined;
  }
}
