// Dispatch ownership on etcd: each controller holds one lease (TTL ttlS, kept alive by the client)
// and owns a host while `o/hosts/<host>` carries its id under that lease. A controller that dies
// stops renewing; etcd drops its keys when the lease expires, and the next claim round of another
// controller takes the hosts over: at once, as a watch of the owner keys sees them go (a claim round
// every claimEveryMs stays the fallback: within ttlS + claimEveryMs, 5 s + 1 s by default).
// A controller claims unowned hosts up to its fair share (hosts / live controllers, rounded up),
// so a fleet spreads over its controllers; owned hosts are not moved while their owner lives.
import { CompareResult, CompareTarget, type Lease, type Watcher } from 'etcd3';
import type { Logger } from 'pino';
import type { HostOwnership } from '../store.js';
import type { EtcdStore } from './etcd-store.js';
import { HOSTS, keys, nameOf, prefixEnd } from './keys.js';
import { cancelSoon } from './mirror-feed.js';

export interface HostLeaseOptions {
  ttlS?: number;
  claimEveryMs?: number;
}

export class EtcdHostLeases implements HostOwnership {
  private lease: Lease | undefined;
  private leaseId = '';
  private readonly owned = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private on: { gained(host: string): void; lost(host: string): void } | undefined;
  private stopped = false;
  private running = false;
  /** A round was asked for while one ran: another follows at once. */
  private again = false;
  private ownersWatch: Watcher | undefined;
  private readonly ttlS: number;
  private readonly everyMs: number;

  constructor(
    private readonly s: EtcdStore,
    private readonly log: Logger,
    o: HostLeaseOptions = {},
  ) {
    this.ttlS = o.ttlS ?? 5;
    this.everyMs = o.claimEveryMs ?? 1000;
  }

  owns(host: string): boolean {
    return this.owned.has(host);
  }

  async owners(): Promise<Map<string, string>> {
    return new Map(
      (await this.range(keys.ownersPrefix)).map((kv) => [
        nameOf(kv.key.subarray(this.s.prefix.length).toString(), keys.ownersPrefix),
        kv.value.toString(),
      ]),
    );
  }

  private async range(prefix: string) {
    const start = this.s.key(prefix);
    return (await this.s.client.kv.range({ key: start, range_end: prefixEnd(start) })).kvs;
  }

  async start(on: { gained(host: string): void; lost(host: string): void }): Promise<void> {
    this.on = on;
    // A new host is claimed at once, not at the next round.
    // Only a host that was not there: a round postponed on every change of a host record would never
    // run while attachments keep bumping generations (and a dead controller's hosts would wait).
    this.s.mirror.onChange((k, v, _fromWatch, old) => {
      if (k.startsWith(HOSTS) && v !== undefined && old === undefined && !this.owned.has(nameOf(k, HOSTS))) this.soon();
    });
    // An owner key gone (its controller's lease expired, or it stopped): its host is claimed at once.
    const w = this.s.client.watch().prefix(this.s.key(keys.ownersPrefix)).watcher();
    w.on('delete', () => this.soon());
    w.on('error', (err) => this.log.debug({ err: String(err) }, 'watch of the host owners ended; rounds go on'));
    this.ownersWatch = w;
    await this.round().catch((err: unknown) =>
      this.log.warn({ err: String(err) }, 'first claim round failed; retrying'),
    );
    this.schedule();
  }

  private soon(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), 20);
  }

  private schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), this.everyMs);
  }

  private async tick(): Promise<void> {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    try {
      await this.round();
    } catch (err) {
      this.log.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'host claim round failed (etcd unavailable?)',
      );
    } finally {
      this.running = false;
      if (this.again) {
        this.again = false;
        this.soon();
      } else this.schedule();
    }
  }

  private async ensureLease(): Promise<string> {
    if (this.lease && this.leaseId) return this.leaseId;
    const lease = this.s.client.lease(this.ttlS);
    lease.on('lost', (err) => {
      if (this.lease !== lease) return;
      this.log.warn(
        { err: err.message, hosts: [...this.owned] },
        'dispatch lease lost: giving up every host until a new lease is held',
      );
      this.lease = undefined;
      this.leaseId = '';
      for (const h of [...this.owned]) this.drop(h);
    });
    this.leaseId = await lease.grant();
    this.lease = lease;
    await this.s.client.kv.put({
      key: this.s.key(keys.controller(this.s.controllerId)),
      value: Buffer.from(String(Date.now())),
      lease: this.leaseId,
    });
    return this.leaseId;
  }

  private drop(host: string): void {
    if (this.owned.delete(host)) this.on?.lost(host);
  }

  /** One round: read owners and live controllers, drop what is no longer ours, claim up to the fair share. */
  private async round(): Promise<void> {
    if (this.stopped) return;
    const leaseId = await this.ensureLease();
    const [ownerOf, ctls] = await Promise.all([this.owners(), this.range(keys.controllersPrefix)]);
    for (const h of [...this.owned]) if (ownerOf.get(h) !== this.s.controllerId) this.drop(h);
    const hosts = [...this.s.mirror.hostKeys].map((k) => nameOf(k, HOSTS));
    for (const [h, c] of ownerOf)
      if (c === this.s.controllerId && hosts.includes(h) && !this.owned.has(h)) this.gain(h);
    const fair = Math.ceil(hosts.length / Math.max(1, ctls.length));
    for (const h of hosts) {
      if (this.owned.size >= fair || this.stopped) break;
      if (ownerOf.has(h)) continue;
      const key = this.s.key(keys.owner(h));
      const r = await this.s.client.kv.txn({
        compare: [{ key, target: CompareTarget.Create, result: CompareResult.Equal, create_revision: 0 }],
        success: [{ request_put: { key, value: Buffer.from(this.s.controllerId), lease: leaseId } }],
        failure: [],
      });
      if (r.succeeded) this.gain(h);
    }
    // Hosts removed from the fleet: their owner key goes with them.
    for (const h of [...this.owned]) {
      if (hosts.includes(h)) continue;
      this.drop(h);
      await this.s.client.kv.deleteRange({ key: this.s.key(keys.owner(h)) });
    }
  }

  private gain(host: string): void {
    this.owned.add(host);
    this.log.info({ host, controller: this.s.controllerId }, 'dispatching to this host');
    this.on?.gained(host);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.ownersWatch) await cancelSoon(this.ownersWatch);
    for (const h of [...this.owned]) this.drop(h);
    const lease = this.lease;
    this.lease = undefined;
    await lease?.revoke().catch(() => undefined);
  }
}
