// `controller migrate` copies the trust records with the fleet: join tokens (their sha256), the
// serials issued to each host and the revoked serials. On SQLite they live in the controller's
// trust folder; on etcd under d/trust/ (etcd/trust.ts). Without them a fleet moved back from etcd
// to a SQLite controller would accept certificates revoked while it ran on etcd. The CA and the
// credentials stay in the folder on both sides: they are never copied into etcd.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FleetnetError } from '../../common/errors.js';
import { normalizeSerial } from '../../common/pki/identity.js';
import { writeSecureFile } from '../../common/pki/keys.js';
import type { RevokedEntry } from '../../common/pki/revocation.js';
import { paths } from '../pki/controller-dir.js';
import { FileIssuedCerts, type IssuedRecord } from '../pki/issued-certs.js';
import { FileJoinTokenStore, type JoinTokenRecord } from '../pki/join-tokens.js';
import type { EtcdStore } from './etcd/etcd-store.js';
import { TRUST, keys } from './etcd/keys.js';

export interface TrustRecords {
  revoked: RevokedEntry[];
  /** Issued serials by host. */
  issued: Record<string, IssuedRecord[]>;
  /** Join tokens not yet expired. */
  tokens: JoinTokenRecord[];
}

export interface TrustCounts {
  revoked: number;
  issued: number;
  tokens: number;
}

export const countTrust = (t: TrustRecords): TrustCounts => ({
  revoked: t.revoked.length,
  issued: Object.values(t.issued).reduce((n, l) => n + l.length, 0),
  tokens: t.tokens.length,
});

/** A trust folder is one `controller init` made: it holds the CA certificate. */
export const isTrustFolder = (dir: string): boolean => existsSync(paths(dir).caCert);

const jsonFiles = (dir: string): string[] => {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.json') && !f.startsWith('.'));
  } catch {
    return [];
  }
};

export function folderTrust(dir: string, nowMs = Date.now()): TrustRecords {
  const p = paths(dir);
  const revoked = existsSync(p.revoked) ? (JSON.parse(readFileSync(p.revoked, 'utf8')) as RevokedEntry[]) : [];
  const issued: Record<string, IssuedRecord[]> = {};
  for (const f of jsonFiles(p.certs))
    issued[f.slice(0, -'.json'.length)] = JSON.parse(readFileSync(join(p.certs, f), 'utf8')) as IssuedRecord[];
  const tokens = jsonFiles(p.tokens)
    .map((f) => JSON.parse(readFileSync(join(p.tokens, f), 'utf8')) as JoinTokenRecord)
    .filter((t) => t.expiresAtMs > nowMs);
  return { revoked, issued, tokens };
}

export function etcdTrust(s: EtcdStore, nowMs = Date.now()): TrustRecords {
  const out: TrustRecords = { revoked: [], issued: {}, tokens: [] };
  for (const [k, e] of s.mirror.all()) {
    if (!k.startsWith(TRUST)) continue;
    const rest = k.slice(TRUST.length);
    if (rest.startsWith('revoked/')) out.revoked.push(JSON.parse(e.v) as RevokedEntry);
    else if (rest.startsWith('tokens/')) {
      const t = JSON.parse(e.v) as JoinTokenRecord;
      if (t.expiresAtMs > nowMs) out.tokens.push(t);
    } else if (rest.startsWith('issued/')) {
      const host = decodeURIComponent(rest.slice('issued/'.length).split('/')[0]!);
      (out.issued[host] ??= []).push(JSON.parse(e.v) as IssuedRecord);
    }
  }
  for (const l of Object.values(out.issued)) l.sort((a, b) => a.atMs - b.atMs);
  return out;
}

/** Puts every record into etcd (the records only grow, so a put needs no compare). */
export async function writeEtcdTrust(s: EtcdStore, t: TrustRecords): Promise<void> {
  const puts: [string, unknown][] = [
    ...t.revoked.map((r): [string, unknown] => [keys.revoked(normalizeSerial(r.serial)), r]),
    ...Object.entries(t.issued).flatMap(([h, l]) => l.map((r): [string, unknown] => [keys.issued(h, r.serial), r])),
    ...t.tokens.map((r): [string, unknown] => [keys.token(r.hash), r]),
  ];
  for (let i = 0; i < puts.length; i += 64) {
    await s.client.kv.txn({
      compare: [],
      success: puts
        .slice(i, i + 64)
        .map(([k, v]) => ({ request_put: { key: s.key(k), value: Buffer.from(JSON.stringify(v)) } })),
      failure: [],
    });
  }
}

/** Adds every record to the folder: revocations and issued serials merged, tokens written. */
export async function writeFolderTrust(dir: string, t: TrustRecords): Promise<void> {
  const p = paths(dir);
  const have = folderTrust(dir, 0);
  const revoked = new Map(have.revoked.map((r) => [normalizeSerial(r.serial), r]));
  for (const r of t.revoked) if (!revoked.has(normalizeSerial(r.serial))) revoked.set(normalizeSerial(r.serial), r);
  if (revoked.size !== have.revoked.length)
    writeSecureFile(p.revoked, JSON.stringify([...revoked.values()], null, 1), 0o644);
  const issued = new FileIssuedCerts(p.certs);
  for (const [host, list] of Object.entries(t.issued)) {
    const known = new Set((have.issued[host] ?? []).map((r) => r.serial));
    for (const r of list) if (!known.has(r.serial)) issued.record(host, r);
  }
  const tokens = new FileJoinTokenStore(p.tokens);
  for (const r of t.tokens) await tokens.put(r);
}

/** Throws naming the first record of `from` that `to` lacks. */
export function verifyTrust(from: TrustRecords, to: TrustRecords, where: string): void {
  const lacks = (what: string) => {
    throw new FleetnetError('failed', `the copy in ${where} lacks ${what}`, {
      hint: 'run the migration again (trust records are only ever added, never removed)',
    });
  };
  const revoked = new Set(to.revoked.map((r) => normalizeSerial(r.serial)));
  for (const r of from.revoked) if (!revoked.has(normalizeSerial(r.serial))) lacks(`revoked serial ${r.serial}`);
  for (const [host, list] of Object.entries(from.issued)) {
    const serials = new Set((to.issued[host] ?? []).map((r) => r.serial));
    for (const r of list) if (!serials.has(r.serial)) lacks(`serial ${r.serial} issued to ${host}`);
  }
  const tokens = new Set(to.tokens.map((r) => r.hash));
  for (const r of from.tokens) if (!tokens.has(r.hash)) lacks(`the join token for ${r.hostId}`);
}
