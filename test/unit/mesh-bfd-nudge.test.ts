// A tunnel whose BFD session enters init gets its bfd:min_tx changed (OVS then sends a Poll at once):
// the exact ovsdb-client argv and OVSDB transaction, through a FakeRunner.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../../common/logger.js';
import { FakeRunner } from '../../common/runner.js';
import { BfdNudge } from '../../agent/mesh/bfd-nudge.js';

const DB = 'unix:/run/x/db.sock';
const rows = (states: Record<string, string>) =>
  new Map(Object.entries(states).map(([name, state]) => [name, { state, forwarding: String(state === 'up') }]));

function nudger(o: { fail?: boolean } = {}) {
  const r = new FakeRunner(() => (o.fail ? { code: 1, stderr: 'failed to connect' } : { stdout: '[{"count":1}]' }));
  const n = new BfdNudge({ runner: r, log: silentLogger(), ovsDb: DB, ours: (name) => name.startsWith('fg') });
  return { r, n };
}

describe('BFD nudge: a session in init polls at once', () => {
  it('each of its tunnels entering init, in one transaction; min_tx goes 101, then back to 100', async () => {
    const { r, n } = nudger();
    n.see(rows({ fgA: 'down', fgB: 'down', other: 'down' }));
    await n.idle();
    assert.equal(r.calls.length, 0);
    n.see(rows({ fgA: 'init', fgB: 'init', other: 'init' }));
    await n.idle();
    const set = (p: string, v: number) => ({
      op: 'mutate',
      table: 'Interface',
      where: [['name', '==', p]],
      mutations: [
        ['bfd', 'delete', ['set', ['min_tx']]],
        ['bfd', 'insert', ['map', [['min_tx', String(v)]]]],
      ],
    });
    assert.deepEqual(
      r.calls.map((c) => [c.cmd, ...c.args.slice(0, 3)]),
      [['ovsdb-client', '--timeout=10', 'transact', DB]],
    );
    assert.deepEqual(JSON.parse(r.calls[0]!.args[3]!), ['Open_vSwitch', set('fgA', 101), set('fgB', 101)]);
    // Still in init: nothing more. Up, then init again (a peer restarted): the other value.
    n.see(rows({ fgA: 'init', fgB: 'up', other: 'init' }));
    n.see(rows({ fgA: 'up', fgB: 'init', other: 'up' }));
    await n.idle();
    assert.deepEqual(JSON.parse(r.calls[1]!.args[3]!), ['Open_vSwitch', set('fgB', 100)]);
    assert.equal(r.calls.length, 2);
  });

  it('a gone interface is forgotten, and a failed change leaves the handshake to the periodic packets', async () => {
    const { r, n } = nudger({ fail: true });
    n.see(rows({ fgA: 'init' }));
    await n.idle();
    n.see(rows({}));
    n.see(rows({ fgA: 'init' }));
    await n.idle();
    assert.equal(r.calls.length, 2);
  });
});
