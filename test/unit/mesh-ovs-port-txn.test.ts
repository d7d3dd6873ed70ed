// A member's new tunnel ports as one OVSDB transaction (`ovsdb-client transact`), and every way back to
// ovs-vsctl: a reply with an error (a port of that name exists, no such bridge), a failed or missing
// ovsdb-client. Exact argv through a FakeRunner; a real ovsdb-server judges the JSON in mesh-ovs.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { txnFailure } from '../../agent/ovs/ovsdb-txn.js';
import { OvsTunnels } from '../../agent/mesh/ovs-tunnels.js';
import { planMesh } from '../../common/mesh/plan.js';
import { FakeRunner, type RecordedCall, type RunOptions, type RunResult } from '../../common/runner.js';
import { hosts } from './mesh-agent-fixture.js';

const DB = 'unix:/run/x/db.sock';
const [t2, t3] = planMesh(hosts, [
  { name: 'blue', kind: 'ovs', encap: 'vxlan', key: 7, bridge: 'ovs-blue', members: ['h1', 'h2', 'h3'] },
])[0]!.networks[0]!.tunnels;

/** A FakeRunner whose ovsdb-client prints `reply`, or fails to start when reply is an Error. */
class Host extends FakeRunner {
  constructor(private readonly reply: string | Error | RunResult) {
    super();
  }

  override async run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult> {
    const r = await super.run(cmd, args, opts);
    if (cmd !== 'ovsdb-client') return r;
    if (this.reply instanceof Error) throw this.reply;
    return typeof this.reply === 'string' ? { ...r, stdout: this.reply } : this.reply;
  }
}

const cmds = (calls: RecordedCall[]) => calls.map((c) => [c.cmd, ...c.args]);

describe('new tunnel ports in one OVSDB transaction', () => {
  it('argv and transaction: the bridge must exist; each port with its interface, BFD, marks, on the bridge', () => {
    const o = new OvsTunnels({ runner: new FakeRunner(), ovsDb: DB, bfdDecayMs: 5000 });
    const argv = o.addTxnArgs([t2!, t3!]);
    assert.deepEqual(argv.slice(0, 3), ['--timeout=10', 'transact', DB]);
    assert.equal(argv.length, 4);
    const port = (t: typeof t2, i: number) => [
      {
        op: 'insert',
        table: 'Interface',
        'uuid-name': `i${i}`,
        row: {
          name: t!.port,
          type: 'vxlan',
          options: [
            'map',
            [
              ['remote_ip', t!.peerIp],
              ['key', '7'],
              ['local_ip', '10.99.0.11'],
            ],
          ],
          bfd: [
            'map',
            [
              ['enable', 'true'],
              ['decay_min_rx', '5000'],
            ],
          ],
        },
      },
      {
        op: 'insert',
        table: 'Port',
        'uuid-name': `p${i}`,
        row: {
          name: t!.port,
          interfaces: ['named-uuid', `i${i}`],
          protected: true,
          external_ids: [
            'map',
            [
              ['fleetnet-net', 'blue'],
              ['fleetnet-peer', t!.peer],
            ],
          ],
        },
      },
      {
        op: 'mutate',
        table: 'Bridge',
        where: [['name', '==', 'ovs-blue']],
        mutations: [['ports', 'insert', ['named-uuid', `p${i}`]]],
      },
    ];
    assert.deepEqual(JSON.parse(argv[3]!), [
      'Open_vSwitch',
      {
        op: 'wait',
        timeout: 0,
        table: 'Bridge',
        where: [['name', '==', 'ovs-blue']],
        columns: ['name'],
        until: '==',
        rows: [{ name: 'ovs-blue' }],
      },
      ...port(t2, 0),
      ...port(t3, 1),
    ]);
    assert.deepEqual([t2!.peer, t3!.peer], ['h2', 'h3']);
    // No --ovs-db: ovsdb-client finds the database as ovs-vsctl does.
    assert.deepEqual(new OvsTunnels({ runner: new FakeRunner() }).addTxnArgs(t2!).slice(0, 2), [
      '--timeout=10',
      'transact',
    ]);
  });

  it('a committed transaction is all: no ovs-vsctl', async () => {
    const r = new Host('[{},{"uuid":["uuid","a"]},{"uuid":["uuid","b"]},{"count":1}]');
    const o = new OvsTunnels({ runner: r, ovsDb: DB });
    await o.add([t2!]);
    assert.deepEqual(cmds(r.calls), [['ovsdb-client', ...o.addTxnArgs([t2!])]]);
  });

  it('an error in the reply, a failing or missing ovsdb-client: ovs-vsctl adds the ports as before', async () => {
    const taken = '[{},{"uuid":["uuid","a"]},{"uuid":["uuid","b"]},{"count":1},{"error":"constraint violation"}]';
    const replies: (string | Error | RunResult)[] = [
      taken,
      '[{"details":"\\"where\\" clause test failed","error":"timed out"},null,null,null]',
      'ovsdb-client: unix:/run/x/db.sock: database connection failed',
      { code: 1, stdout: '', stderr: 'ovsdb-client: failed to connect' },
      Object.assign(new Error('spawn ovsdb-client ENOENT'), { code: 'ENOENT' }),
    ];
    for (const reply of replies) {
      const r = new Host(reply);
      const o = new OvsTunnels({ runner: r, ovsDb: DB });
      await o.add([t2!]);
      assert.deepEqual(cmds(r.calls).slice(-1), [['ovs-vsctl', ...o.addArgs([t2!])]], String(reply));
    }
  });

  it('a bridge to make: ovs-vsctl alone (it makes the bridge and waits for ovs-vswitchd)', async () => {
    const r = new Host('[{}]');
    const o = new OvsTunnels({ runner: r, ovsDb: DB });
    await o.add([t2!], { bridge: 'ovs-blue', network: 'blue', datapathType: 'netdev' });
    assert.deepEqual(cmds(r.calls), [
      ['ovs-vsctl', ...o.addArgs([t2!], { bridge: 'ovs-blue', network: 'blue', datapathType: 'netdev' })],
    ]);
  });

  it('txnFailure reads the reply: committed, an error with its details, or not a reply at all', () => {
    assert.equal(txnFailure('[{},{"count":1}]'), undefined);
    assert.equal(txnFailure('[{"error":"timed out","details":"no bridge"},null]'), 'timed out: no bridge');
    assert.equal(txnFailure('[{},{"error":"constraint violation"}]'), 'constraint violation');
    assert.match(txnFailure('') ?? '', /not an OVSDB reply/);
    assert.equal(txnFailure('{"error":null}'), 'not an OVSDB reply');
  });
});
