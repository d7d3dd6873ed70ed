// OVSDB transactions (RFC 7047's JSON, sent by `ovsdb-client transact` through the Runner) for the agent's
// small, frequent OVS writes, where an `ovs-vsctl` costs more than the write: it starts by reading the bridge,
// port and interface tables, and waits for ovs-vswitchd. Measured on one OVS with 50 ports: 11 ms of the
// tool's CPU per `ovs-vsctl`, 5 per `ovsdb-client transact`, and less of ovsdb-server's; on a busy fleet that
// is a join's time (bench/README.md, fleet scale). ovsdb-client exits 0 whether the transaction committed or
// not: its reply says.
//
// A member's new tunnel ports: the transaction asserts that the bridge exists and inserts the ports by name; a
// name already taken (a port re-added to fix its BFD settings) or a missing bridge fails it whole, and the
// caller falls back to ovs-vsctl.
import type { Tunnel } from '../../common/mesh.js';

type Keyed = Pick<Tunnel, 'bridge' | 'port' | 'encap' | 'peerIp' | 'key' | 'localIp' | 'network' | 'peer'>;

const map = (o: Record<string, string>) => ['map', Object.entries(o)];

/**
 * The transaction's JSON: per bridge a wait with timeout 0 (fails unless the bridge is there), per tunnel its
 * Interface and Port rows (Port is not a root table: a port no bridge holds would vanish) and the bridge's
 * `ports` mutation.
 */
export function newPortsTxn<T extends Keyed>(
  ts: readonly T[],
  bfd: Record<string, string>,
  ext: (t: T) => Record<string, string>,
): string {
  const bridges = [...new Set(ts.map((t) => t.bridge))];
  const ops: object[] = bridges.map((b) => ({
    op: 'wait',
    timeout: 0,
    table: 'Bridge',
    where: [['name', '==', b]],
    columns: ['name'],
    until: '==',
    rows: [{ name: b }],
  }));
  ts.forEach((t, i) => {
    const options = { remote_ip: t.peerIp, key: String(t.key), local_ip: t.localIp };
    ops.push(
      {
        op: 'insert',
        table: 'Interface',
        'uuid-name': `i${i}`,
        row: { name: t.port, type: t.encap, options: map(options), bfd: map(bfd) },
      },
      {
        op: 'insert',
        table: 'Port',
        'uuid-name': `p${i}`,
        row: { name: t.port, interfaces: ['named-uuid', `i${i}`], protected: true, external_ids: map(ext(t)) },
      },
      {
        op: 'mutate',
        table: 'Bridge',
        where: [['name', '==', t.bridge]],
        mutations: [['ports', 'insert', ['named-uuid', `p${i}`]]],
      },
    );
  });
  return JSON.stringify(['Open_vSwitch', ...ops]);
}

/**
 * Why `ovsdb-client transact` did not commit, from what it printed (one result per operation; it exits 0
 * either way), or undefined when it did.
 */
export function txnFailure(stdout: string): string | undefined {
  let results: unknown;
  try {
    results = JSON.parse(stdout);
  } catch {
    return `not an OVSDB reply: ${stdout.slice(0, 200)}`;
  }
  if (!Array.isArray(results)) return 'not an OVSDB reply';
  for (const r of results) {
    if (r && typeof r === 'object' && 'error' in r) {
      const e = r as { error: unknown; details?: unknown };
      return `${String(e.error)}${e.details ? `: ${String(e.details)}` : ''}`;
    }
  }
  return undefined;
}

/** The argv of `ovsdb-client` running one transaction on the agent's database (absent: ovsdb-client's default). */
export function transactArgs(ovsDb: string | undefined, txn: string): string[] {
  return ['--timeout=10', 'transact', ...(ovsDb ? [ovsDb] : []), txn];
}

/** Sets bfd:min_tx of each named interface, keeping its other BFD keys; a missing interface matches no row. */
export function bfdMinTxTxn(values: Iterable<[string, string]>): string {
  const ops = [...values].map(([name, v]) => ({
    op: 'mutate',
    table: 'Interface',
    where: [['name', '==', name]],
    mutations: [
      ['bfd', 'delete', ['set', ['min_tx']]],
      ['bfd', 'insert', ['map', [['min_tx', v]]]],
    ],
  }));
  return JSON.stringify(['Open_vSwitch', ...ops]);
}
