// A tunnel whose BFD session enters init gets its bfd:min_tx changed (OVS then sends a Poll at once):
// the exact ovs-vsctl argv, through a FakeRunner.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { silentLogger } from '../../common/logger.js';
import { FakeRunner } from '../../common/runner.js';
import { BfdNudge } from '../../agent/mesh/bfd-nudge.js';

const DB = 'unix:/run/x/db.sock';
const rows = (states: Record<string, string>) =>
  new Map(Object.entries(states).map(([name, state]) => [name, { state, forwarding: String(state === 'up') }]));

function nudger(o: { fail?: boolean } = {}) {
  const r = new FakeRunner(() => (o.fail ? { code: 1, stderr: 'no such interface' } : {}));
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
    const set = (p: string, v: number) => ['--if-exists', 'set', 'interface', p, `bfd:min_tx=${v}`];
    assert.deepEqual(
      r.calls.map((c) => [c.cmd, ...c.args]),
      [['ovs-vsctl', `--db=${DB}`, '--timeout=10', ...set('fgA', 101), '--', ...set('fgB', 101)]],
    );
    // Still in init: nothing more. Up, then init again (a peer restarted): the other value.
    n.see(rows({ fgA: 'init', fgB: 'up', other: 'init' }));
    n.see(rows({ fgA: 'up', fgB: 'init', other: 'up' }));
    await n.idle();
    assert.deepEqual(r.calls[1]!.args, [`--db=${DB}`, '--timeout=10', ...set('fgB', 100)]);
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
