// What the agent handed out to CNI callers, per network: one JSON file per network in the agent's
// state folder (written whole, through a rename, so a crash leaves the old file or the new one).
// Local allocation (no controller) picks the next free address of the network's range here; with
// a controller, the controller allocates and this file only remembers who holds what, so that
// DEL, CHECK and GC find it again.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeAddr, tryParseAddr } from '../common/ip.js';
import { KeyedQueue } from '../common/keyed-queue.js';
import type { Pool } from './netconf.js';
import { CniCode, CniError } from './spec.js';

export interface Reservation {
  /** The attachment id (cni- + hash of network, container id and ifname). */
  id: string;
  containerId: string;
  ifname: string;
  netns: string;
  plugin: 'fleetnet' | 'fleetnet-ipam';
  addresses: string[];
  gateway?: string;
  mac?: string;
  /** Made through the controller (released there too). */
  controller?: boolean;
  createdMs: number;
}

interface PoolFile {
  network: string;
  /** The last address handed out, so the next ADD does not reuse a just-freed one at once. */
  cursor?: string;
  reservations: Record<string, Reservation>;
}

export class Reservations {
  private readonly dir: string;
  private readonly queue = new KeyedQueue();
  private readonly cache = new Map<string, PoolFile>();

  constructor(stateDir: string) {
    this.dir = join(stateDir, 'cni');
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  private file(network: string): string {
    return join(this.dir, `${network}.json`);
  }

  private load(network: string): PoolFile {
    let f = this.cache.get(network);
    if (f) return f;
    try {
      f = JSON.parse(readFileSync(this.file(network), 'utf8')) as PoolFile;
    } catch {
      f = { network, reservations: {} };
    }
    this.cache.set(network, f);
    return f;
  }

  private save(f: PoolFile): void {
    const tmp = `${this.file(f.network)}.tmp`;
    writeFileSync(tmp, JSON.stringify(f), { mode: 0o600 });
    renameSync(tmp, this.file(f.network));
  }

  /** Runs fn alone for this network (one writer per network). */
  locked<T>(network: string, fn: () => Promise<T> | T): Promise<T> {
    return this.queue.run(`cni:${network}`, async () => fn());
  }

  get(network: string, id: string): Reservation | undefined {
    return this.load(network).reservations[id];
  }

  all(network: string): Reservation[] {
    return Object.values(this.load(network).reservations);
  }

  /** Local reservations (not the controller's) whose namespace path no longer exists, in every network. */
  gone(): { network: string; r: Reservation }[] {
    const nets = readdirSync(this.dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => f.slice(0, -'.json'.length));
    return nets.flatMap((network) =>
      this.all(network)
        .filter((r) => !r.controller && r.netns !== '' && !existsSync(r.netns))
        .map((r) => ({ network, r })),
    );
  }

  put(network: string, r: Reservation): void {
    const f = this.load(network);
    f.reservations[r.id] = r;
    this.save(f);
  }

  delete(network: string, id: string): boolean {
    const f = this.load(network);
    if (!f.reservations[id]) return false;
    delete f.reservations[id];
    this.save(f);
    return true;
  }

  /** The next free address of a local pool (call inside `locked`). */
  nextFree(pool: Pool): string {
    if (!pool.subnet || pool.first === undefined || pool.last === undefined) {
      throw new CniError(
        CniCode.invalidConfig,
        `invalid network configuration: subnet: network ${pool.network} needs a subnet ` +
          `(this agent has no controller to ask)`,
        'add "subnet" (and optionally "gateway", "rangeStart", "rangeEnd"), or start the agent with --cni-controller',
      );
    }
    const f = this.load(pool.network);
    const held = new Set(Object.values(f.reservations).flatMap((r) => r.addresses.map((a) => a.split('/')[0]!)));
    if (pool.gateway) held.add(pool.gateway.text);
    const fam = pool.subnet.addr.family;
    const size = pool.last - pool.first + 1n;
    const cur = f.cursor ? this.offsetOf(pool, f.cursor) : undefined;
    let off = cur === undefined ? 0n : cur + 1n;
    for (let i = 0n; i < size && i < 65536n; i++, off++) {
      if (off >= size) off = 0n;
      const a = makeAddr(fam, pool.first + off);
      if (held.has(a.text)) continue;
      f.cursor = a.text;
      return `${a.text}/${pool.subnet.prefix}`;
    }
    throw new CniError(
      CniCode.poolExhausted,
      `network ${pool.network} has no free address in ${pool.subnet.text}`,
      'DEL unused containers, or widen the range',
    );
  }

  /** Whether a local pool still has a free address (STATUS). */
  hasFree(pool: Pool): boolean {
    try {
      const f = this.load(pool.network);
      const cursor = f.cursor;
      this.nextFree(pool);
      if (cursor === undefined) delete f.cursor;
      else f.cursor = cursor;
      return true;
    } catch {
      return false;
    }
  }

  private offsetOf(pool: Pool, text: string): bigint | undefined {
    const v = tryParseAddr(text)?.value;
    return v !== undefined && v >= pool.first! && v <= pool.last! ? v - pool.first! : undefined;
  }
}
