// OpenSSH known_hosts: find the pinned keys of a host, compare, and pin a new one (--accept-new).
// Hashed entries (|1|salt|hash) are understood; new entries are written in the plain form.
import { createHash, createHmac } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** How OpenSSH names a host in known_hosts: bare for port 22, else [addr]:port. */
export function knownHostsName(addr: string, port: number): string {
  return port === 22 ? addr : `[${addr}]:${port}`;
}

/** `SHA256:…` as ssh-keygen -l prints it. */
export function fingerprint(keyBlob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '');
}

/** The key type is the first string inside the blob. */
export function keyType(keyBlob: Buffer): string {
  const n = keyBlob.readUInt32BE(0);
  return keyBlob.subarray(4, 4 + n).toString('latin1');
}

function matchesName(pattern: string, name: string): boolean {
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  return pattern.split(',').includes(name);
}

/** Keys pinned for a name (markers like @revoked lines are skipped). */
export function pinnedKeys(file: string, name: string): Buffer[] {
  if (!existsSync(file)) return [];
  const keys: Buffer[] = [];
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith('@')) continue;
    const [hosts, , b64] = line.split(/\s+/);
    if (hosts && b64 && matchesName(hosts, name)) keys.push(Buffer.from(b64, 'base64'));
  }
  return keys;
}

export function pinKey(file: string, name: string, keyBlob: Buffer): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  appendFileSync(file, `${name} ${keyType(keyBlob)} ${keyBlob.toString('base64')}\n`, { mode: 0o600 });
}

export type HostKeyVerdict =
  | { ok: true; pinnedNow: boolean; fingerprint: string }
  | { ok: false; reason: 'mismatch' | 'unknown'; fingerprint: string };

/** The decision the SSH host verifier makes before anything runs on the host. */
export function verifyHostKey(file: string, name: string, keyBlob: Buffer, acceptNew: boolean): HostKeyVerdict {
  const fp = fingerprint(keyBlob);
  const pinned = pinnedKeys(file, name);
  if (pinned.some((k) => k.equals(keyBlob))) return { ok: true, pinnedNow: false, fingerprint: fp };
  if (pinned.length > 0) return { ok: false, reason: 'mismatch', fingerprint: fp };
  if (!acceptNew) return { ok: false, reason: 'unknown', fingerprint: fp };
  pinKey(file, name, keyBlob);
  return { ok: true, pinnedNow: true, fingerprint: fp };
}
