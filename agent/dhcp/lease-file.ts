// Reads what fleetnet's hook recorded (deploy/dhcp-hook writes `key=value` lines, atomically).
import { readFileSync, statSync } from 'node:fs';
import type { ClientRecord, Lease } from './types.js';

export interface HookRecord {
  event: string;
  address: string; // IPv4 without prefix; '' when the lease is gone
  prefix: number;
  router: string;
  dns: string[];
  leaseSeconds: number;
  timeUnixMs: number;
}

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

export function parseHookRecord(text: string): HookRecord | undefined {
  const kv = new Map<string, string>();
  for (const l of text.split('\n')) {
    const i = l.indexOf('=');
    if (i > 0) kv.set(l.slice(0, i), l.slice(i + 1).trim());
  }
  const event = kv.get('event');
  const time = Number(kv.get('time'));
  if (!event || !Number.isFinite(time)) return undefined;
  const address = kv.get('address') ?? '';
  const prefix = Number(kv.get('prefix') || 0);
  if (address && (!IPV4.test(address) || !Number.isInteger(prefix) || prefix < 1 || prefix > 32)) return undefined;
  const router = kv.get('router') ?? '';
  return {
    event,
    address,
    prefix: address ? prefix : 0,
    router: IPV4.test(router) ? router : '',
    dns: (kv.get('dns') ?? '').split(/\s+/).filter((d) => IPV4.test(d)),
    leaseSeconds: Math.max(0, Math.floor(Number(kv.get('lease')) || 0)),
    timeUnixMs: time * 1000,
  };
}

/**
 * The record in a client's directory when its lease file changed since sinceMtimeMs (undefined: no file, or
 * nothing new); its mtimeMs is the next call's sinceMtimeMs, also when the record does not parse.
 */
export function readHookFile(dir: string, sinceMtimeMs: number): { mtimeMs: number; record?: HookRecord } | undefined {
  const f = `${dir}/lease`;
  let mtimeMs: number;
  try {
    mtimeMs = statSync(f).mtimeMs;
  } catch {
    return undefined;
  }
  if (mtimeMs === sinceMtimeMs) return undefined;
  const record = parseHookRecord(readFileSync(f, 'utf8'));
  return record ? { mtimeMs, record } : { mtimeMs };
}

/** A hook record that means "this interface holds a lease". */
export function isBound(r: HookRecord | undefined): r is HookRecord {
  return !!r && !!r.address && ['bound', 'renew', 'rebind', 'reboot'].includes(r.event);
}

const BOUND_EVENTS = new Set(['bound', 'renew', 'rebind', 'reboot']);

/** The lease a hook record announces for this client, or undefined when it says the lease is gone. */
export function leaseOfHook(r: HookRecord, rec: ClientRecord): Lease | undefined {
  if (!isBound(r) || !BOUND_EVENTS.has(r.event)) return undefined;
  const { spec } = rec;
  return {
    key: spec.key,
    client: spec.client,
    ifname: spec.ifname,
    address: `${r.address}/${r.prefix}`,
    router: r.router,
    dns: r.dns,
    leaseSeconds: r.leaseSeconds,
    obtainedUnixMs: r.timeUnixMs,
    expiresUnixMs: r.timeUnixMs + r.leaseSeconds * 1000,
    clientPid: rec.stopped ? 0 : rec.pid,
    ...(rec.helperId ? { helperId: rec.helperId } : {}),
  };
}
