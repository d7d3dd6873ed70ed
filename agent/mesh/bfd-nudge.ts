// BFD's three-way handshake (RFC 5880 6.2: down -> init -> up) moves one step per periodic packet,
// and a session that is not up sends one a second at most (6.8.3), so a new tunnel whose peer has
// answered still waits up to two more seconds for both ends to say up. A session in init has heard
// its peer: when this host's BFD watch sees one of its tunnels enter init, the agent changes that
// interface's bfd:min_tx between 100 (OVS's default) and 101 ms. A changed timer is announced with a
// Poll sequence (6.5, 6.8.3), which OVS sends at once; the peer answers the Poll at once with Final
// (6.8.7), so both ends are up within a round trip instead of two timers. The only lasting effect is
// the 1 ms of the transmit interval once up (the peer's min_rx, 1 s by default, bounds it anyway).
// Changes are batched: one OVSDB transaction (`ovsdb-client transact`, which the watch's monitor already
// needs) for every session that entered init meanwhile; a member nudges once per join.
import type { Logger } from 'pino';
import type { Runner } from '../../common/runner.js';
import { bfdMinTxTxn, transactArgs, txnFailure } from '../ovs/ovsdb-txn.js';

export const NUDGE_MIN_TX = ['101', '100'] as const;

export interface BfdNudgeOptions {
  runner: Runner;
  log: Logger;
  ovsDb?: string;
  /** Whether an interface is one of this agent's tunnels (others' BFD sessions are left alone). */
  ours: (name: string) => boolean;
}

export class BfdNudge {
  /** Interface name → its state when last seen. */
  private readonly state = new Map<string, string>();
  /** Interface name → the min_tx this agent last gave it. */
  private readonly minTx = new Map<string, string>();
  private readonly pending = new Set<string>();
  private running: Promise<void> | undefined;

  constructor(private readonly o: BfdNudgeOptions) {}

  /** The interfaces' bfd_status as the watch holds them: those that just entered init are nudged. */
  see(rows: Map<string, Record<string, string>>): void {
    for (const [name, bfd] of rows) {
      const st = bfd.state ?? '';
      if (st === 'init' && this.state.get(name) !== 'init' && this.o.ours(name)) this.pending.add(name);
      this.state.set(name, st);
    }
    for (const name of this.state.keys()) if (!rows.has(name)) this.state.delete(name);
    if (this.pending.size && !this.running) this.running = this.flush();
  }

  /** The ovsdb-client argv that gives each interface the other of the two min_tx values. */
  args(names: string[]): string[] {
    const values = names.map((n): [string, string] => {
      const v = this.minTx.get(n) === NUDGE_MIN_TX[0] ? NUDGE_MIN_TX[1] : NUDGE_MIN_TX[0];
      this.minTx.set(n, v);
      return [n, v];
    });
    return transactArgs(this.o.ovsDb, bfdMinTxTxn(values));
  }

  /** Runs batches until nothing is pending; a failure is logged (the periodic packets still finish the handshake). */
  private async flush(): Promise<void> {
    while (this.pending.size) {
      const names = [...this.pending];
      this.pending.clear();
      try {
        const r = await this.o.runner.run('ovsdb-client', this.args(names), { timeoutMs: 15_000 });
        const why = txnFailure(r.stdout);
        if (why) throw new Error(why);
      } catch (err) {
        this.o.log.debug({ err: String(err), interfaces: names }, 'BFD nudge failed');
      }
    }
    this.running = undefined;
  }

  /** Resolves once the batches started so far are done (tests). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }
}
