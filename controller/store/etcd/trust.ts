// Shared trust for several controllers on etcd: join tokens (only their sha256), the serials
// issued to each host, and revoked serials live in the store, so any controller can enroll an
// agent, revoke a host's certificates or check a token, and a revocation reaches every controller
// through its watch (the keys are under d/, in the mirror: isRevoked stays a memory lookup).
// The CA itself (its private key) is never written to etcd: every controller reads it from its
// own trust folder (README: "New controller, CA key").
//
// Tokens are taken with one transaction (the key exists → read and delete it), so a token works
// once even when two controllers see it at the same moment. Revocations and issued serials only
// ever grow (a serial is random, never reused): their writes need no compare; each is kept in
// memory at once and written in the background until etcd takes it (then the mirror holds it).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CompareResult, CompareTarget } from 'etcd3';
import type { Logger } from 'pino';
import { normalizeSerial } from '../../../common/pki/identity.js';
import type { RevocationStore, RevokedEntry } from '../../../common/pki/revocation.js';
import type { Trust } from '../../pki/controller-dir.js';
import type { IssuedCertsStore, IssuedRecord } from '../../pki/issued-certs.js';
import { JoinTokens, type JoinTokenRecord, type JoinTokenStore } from '../../pki/join-tokens.js';
import type { EtcdStore } from './etcd-store.js';
import { TRUST, keys } from './keys.js';

const TOKENS = `${TRUST}tokens/`;
const ISSUED = `${TRUST}issued/`;
const REVOKED = `${TRUST}revoked/`;

/** Writes that must reach etcd: retried every retryMs until they do, in order. */
class Outbox {
  private readonly queue: (() => Promise<unknown>)[] = [];
  private running = false;
  private closed = false;
  constructor(
    private readonly log: Logger,
    private readonly retryMs = 1000,
  ) {}

  push(write: () => Promise<unknown>): void {
    this.queue.push(write);
    void this.drain();
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    while (this.queue.length && !this.closed) {
      try {
        await this.queue[0]!();
        this.queue.shift();
      } catch (err) {
        this.log.warn({ err: String(err), waiting: this.queue.length }, 'trust change not in etcd yet; retrying');
        await new Promise((r) => setTimeout(r, this.retryMs).unref());
      }
    }
    this.running = false;
  }

  close(): void {
    this.closed = true;
  }
}

export class EtcdJoinTokenStore implements JoinTokenStore {
  constructor(private readonly s: EtcdStore) {}

  async put(rec: JoinTokenRecord): Promise<void> {
    await this.s.client.put(this.s.key(keys.token(rec.hash))).value(JSON.stringify(rec));
  }

  async get(hash: string): Promise<JoinTokenRecord | undefined> {
    // from etcd itself, not the mirror: a token issued through another controller a moment ago
    const v = await this.s.client.get(this.s.key(keys.token(hash))).string();
    return v === null ? undefined : (JSON.parse(v) as JoinTokenRecord);
  }

  async take(hash: string): Promise<JoinTokenRecord | undefined> {
    const key = this.s.key(keys.token(hash));
    const r = await this.s.client.kv.txn({
      compare: [{ key, target: CompareTarget.Create, result: CompareResult.Greater, create_revision: 0 }],
      success: [{ request_range: { key } }, { request_delete_range: { key } }],
      failure: [],
    });
    const kv = r.succeeded ? r.responses[0]?.response_range?.kvs[0] : undefined;
    return kv ? (JSON.parse(kv.value.toString()) as JoinTokenRecord) : undefined;
  }

  async prune(nowMs: number): Promise<number> {
    let n = 0;
    for (const [k, e] of this.s.mirror.all()) {
      if (!k.startsWith(TOKENS) || (JSON.parse(e.v) as JoinTokenRecord).expiresAtMs > nowMs) continue;
      const key = this.s.key(k);
      const r = await this.s.client.kv.txn({
        compare: [{ key, target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: e.mod }],
        success: [{ request_delete_range: { key } }],
        failure: [],
      });
      if (r.succeeded) n++;
    }
    return n;
  }
}

/** Puts one key and puts it into the mirror at the revision etcd answered. */
async function putKey(s: EtcdStore, k: string, v: string): Promise<void> {
  const r = await s.client.put(s.key(k)).value(v).exec();
  s.mirror.apply(k, v, Number(r.header.revision));
}

export class EtcdRevocations implements RevocationStore {
  /** Revoked here and not seen back through the watch yet. */
  private readonly mine = new Map<string, RevokedEntry>();
  constructor(
    private readonly s: EtcdStore,
    private readonly out: Outbox,
  ) {}

  isRevoked(serial: string): boolean {
    const n = normalizeSerial(serial);
    return this.mine.has(n) || this.s.mirror.get(keys.revoked(n)) !== undefined;
  }

  revoke(e: { serial: string; name: string; reason: string }): void {
    const serial = normalizeSerial(e.serial);
    if (this.isRevoked(serial)) return;
    const entry: RevokedEntry = { ...e, serial, atMs: Date.now() };
    this.mine.set(serial, entry);
    this.out.push(async () => {
      await putKey(this.s, keys.revoked(serial), JSON.stringify(entry));
      this.mine.delete(serial);
    });
  }

  list(): RevokedEntry[] {
    const out = new Map(this.mine);
    for (const [k, e] of this.s.mirror.all()) {
      if (!k.startsWith(REVOKED)) continue;
      const r = JSON.parse(e.v) as RevokedEntry;
      out.set(r.serial, r);
    }
    return [...out.values()];
  }
}

export class EtcdIssuedCerts implements IssuedCertsStore {
  private readonly mine = new Map<string, Map<string, IssuedRecord>>();
  constructor(
    private readonly s: EtcdStore,
    private readonly out: Outbox,
  ) {}

  record(hostId: string, rec: IssuedRecord): void {
    let m = this.mine.get(hostId);
    if (!m) this.mine.set(hostId, (m = new Map()));
    m.set(rec.serial, rec);
    this.out.push(async () => {
      await putKey(this.s, keys.issued(hostId, rec.serial), JSON.stringify(rec));
      this.mine.get(hostId)?.delete(rec.serial);
    });
  }

  list(hostId: string): IssuedRecord[] {
    const out = new Map(this.mine.get(hostId));
    const prefix = `${ISSUED}${encodeURIComponent(hostId)}/`;
    for (const [k, e] of this.s.mirror.all()) {
      if (!k.startsWith(prefix)) continue;
      const r = JSON.parse(e.v) as IssuedRecord;
      out.set(r.serial, r);
    }
    return [...out.values()].sort((a, b) => a.atMs - b.atMs);
  }

  forget(hostId: string): void {
    this.mine.delete(hostId);
    const prefix = `${ISSUED}${encodeURIComponent(hostId)}/`;
    this.out.push(async () => {
      const r = await this.s.client.delete().prefix(this.s.key(prefix)).exec();
      const gone = [...this.s.mirror.all()].map(([k]) => k).filter((k) => k.startsWith(prefix));
      for (const k of gone) this.s.mirror.apply(k, undefined, Number(r.header.revision));
    });
  }

  ownerOf(serial: string): string | undefined {
    const want = normalizeSerial(serial);
    for (const [subject, m] of this.mine) if ([...m.keys()].some((s) => normalizeSerial(s) === want)) return subject;
    for (const [k, e] of this.s.mirror.all()) {
      if (!k.startsWith(ISSUED) || normalizeSerial((JSON.parse(e.v) as IssuedRecord).serial) !== want) continue;
      return decodeURIComponent(k.slice(ISSUED.length).split('/')[0]!);
    }
    return undefined;
  }
}

/**
 * The trust folder's CA and credentials with tokens, issued serials and revocations in etcd. What
 * the folder held of those (a controller that ran on SQLite, or the first one) is copied in once.
 */
export function sharedTrust(trust: Trust, s: EtcdStore, log: Logger): { trust: Trust; close(): void } {
  const out = new Outbox(log);
  const revocations = new EtcdRevocations(s, out);
  const issued = new EtcdIssuedCerts(s, out);
  importFolder(trust, revocations, issued, log);
  const tokens = new JoinTokens({ store: new EtcdJoinTokenStore(s), ttlMs: trust.settings.joinTokenTtlMs });
  return { trust: { ...trust, tokens, revocations, issued }, close: () => out.close() };
}

function importFolder(trust: Trust, revocations: EtcdRevocations, issued: EtcdIssuedCerts, log: Logger): void {
  let n = 0;
  for (const e of trust.revocations.list()) {
    if (revocations.isRevoked(e.serial)) continue;
    revocations.revoke(e);
    n++;
  }
  const dir = join(trust.dir, 'certs');
  let files: string[] = [];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  } catch {
    /* no certificates issued from this folder */
  }
  for (const f of files) {
    const host = f.slice(0, -'.json'.length);
    const known = new Set(issued.list(host).map((r) => r.serial));
    for (const r of JSON.parse(readFileSync(join(dir, f), 'utf8')) as IssuedRecord[]) {
      if (known.has(r.serial)) continue;
      issued.record(host, r);
      n++;
    }
  }
  if (n) log.info({ records: n, dir: trust.dir }, 'revocations and issued serials of the trust folder copied to etcd');
}
