// Local CNI reservations whose namespace went without a DEL: freed after the grace, and nothing else is.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { GoneReservations } from '../../agent/lifecycle/cni-gone.js';
import { Reservations, type Reservation } from '../../cni/reservations.js';
import { silentLogger } from '../../common/logger.js';

test('a reservation whose namespace is gone is freed after the grace; live, controller ones stay', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fn-cni-gone-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const res = new Reservations(dir);
  const r = (id: string, netns: string, more: Partial<Reservation> = {}): Reservation => ({
    id,
    containerId: id,
    ifname: 'eth0',
    netns,
    plugin: 'fleetnet',
    addresses: ['10.7.0.2/24'],
    createdMs: 1,
    ...more,
  });
  res.put('lab', r('gone', join(dir, 'no-such-netns')));
  res.put('lab', r('live', '/proc/self/ns/net'));
  res.put('lab', r('fleet', join(dir, 'no-such-netns'), { controller: true }));
  const sweep = new GoneReservations(res, silentLogger());
  assert.deepEqual(await sweep.sweep(1000, 500), [], 'first seen: within the grace');
  assert.deepEqual(await sweep.sweep(1400, 500), []);
  assert.deepEqual(await sweep.sweep(1600, 500), ['lab/gone/eth0']);
  assert.deepEqual(
    res
      .all('lab')
      .map((x) => x.id)
      .sort(),
    ['fleet', 'live'],
  );
  assert.deepEqual(
    new Reservations(dir)
      .all('lab')
      .map((x) => x.id)
      .sort(),
    ['fleet', 'live'],
    'freed on disk too',
  );
});
