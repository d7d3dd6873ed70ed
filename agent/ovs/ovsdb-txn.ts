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
/** A new port with its one interface, as the Port and Interface rows hold them. */
export interface NewPort {
  bridge: string;
  name: string;
  type: string;
  options: Record<string, string>;
  bfd: Record<string, string>;
  protected: boolean;
  externalIds: Record<string, string>;
}

const map = (o: Record<string, string>) => ['map', Object.entries(o)];

/**
 * The transaction's JSON: per bridge a wait with timeout 0 (fails unless the bridge is there), per port its
 * Interface and Port rows (Port is not a root table: a port no bridge holds would vanish) and the bridge's
 * `ports` mutation.
 */
export function newPortsTxn(ports: readonly NewPort[]): string {
  const bridges = [...new Set(ports.map((p) => p.bridge))];
  const ops: object[] = bridges.map((b) => ({
    op: 'wait',
    timeout: 0,
    table: 'Bridge',
    where: [['name', '==', b]],
    columns: ['name'],
    until: '==',
    rows: [{ name: b }],
  }));
  ports.forEach((p, i) => {
    ops.push(
      {
        op: 'insert',
        table: 'Interface',
        'uuid-name': `i${i}`,
        row: { name: p.name, type: p.type, options: map(p.options), bfd: map(p.bfd) },
      },
      {
        op: 'insert',
        table: 'Port',
        'uuid-name': `p${i}`,
        row: {
          name: p.name,
          interfaces: ['named-uuid', `i${i}`],
          protected: p.protected,
          external_ids: map(p.externalIds),
        },
      },
      {
        op: 'mutate',
        table: 'Bridge',
        where: [['name', '==', p.bridge]],
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
      ['bfd', 'insert', map({ min_tx: v })],
    ],
  }));
  return JSON.stringify(['Open_vSwitch', ...ops]);
}
