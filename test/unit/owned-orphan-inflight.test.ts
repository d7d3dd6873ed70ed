// An owned bridge with no port is an orphan only when no record uses it and no attach under way holds it: the
// sweep neither reports nor removes the bridge an attach is plugging into (it holds it before it looks at it),
// and removes it once nothing holds it (the record lost, as after kill -9 before the record was written).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { Attacher } from '../../agent/attach/attacher.js';
import { RecordStore } from '../../agent/attach/records.js';
import { findOrphans, removeOrphans, type OrphanDeps } from '../../agent/lifecycle/orphans.js';
import { ipExec } from '../../agent/linux/ip.js';
import { OWNED_ALIAS } from '../../agent/linux/sysfs.js';
import { OvsCtl } from '../../agent/ovs/vsctl.js';
import { attachOrderFromProto } from '../../agent/service/convert.js';
import { FakeRunner, type RunOptions, type RunResult } from '../../common/runner.js';
import { CONTAINER, eth1ReadBack, fakeSys, request, tmp } from './parity-fixtures.js';

const log = pino({ level: 'silent' });

/** Holds the attach's veth batch until open(). */
class VethGate extends FakeRunner {
  private opened!: () => void;
  private readonly gate = new Promise<void>((r) => (this.opened = r));
  private arrived!: () => void;
  readonly reached = new Promise<void>((r) => (this.arrived = r));

  open(): void {
    this.opened();
  }

  override async run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult> {
    if (cmd === 'ip' && / type veth peer name eth1 /.test(opts?.input ?? '')) {
      this.arrived();
      await this.gate;
    }
    return super.run(cmd, args, opts);
  }
}

test('an owned bridge an attach is plugging into is no orphan; with its record lost it is, and goes', async () => {
  const sys = fakeSys();
  writeFileSync(join(sys, 'br9', 'ifalias'), `${OWNED_ALIAS}\n`); // br9: made by fleetnet, no port yet
  const runner = new VethGate(eth1ReadBack);
  const records = new RecordStore(tmp('fnp-owned-'));
  const attacher = new Attacher({
    runner,
    ip: ipExec(runner),
    records,
    resolver: { resolve: async () => CONTAINER },
    log,
    sysClassNet: sys,
    garp: false,
    capabilities: async () => [],
  });
  const od: OrphanDeps = {
    runner,
    ovs: new OvsCtl(runner),
    records,
    inProgress: () => attacher.inProgress(),
    removeIfUnclaimed: (n, rm) => attacher.removeIfUnclaimed(n, rm),
    ownerMark: 'fleetnet:a0123456789',
    privateOvs: false,
    sysClassNet: sys,
    owned: attacher.owned,
    log,
  };
  const dels = () => runner.calls.filter((c) => c.cmd === 'ip' && c.args.join(' ') === 'link del br9').length;
  const names = async () => (await findOrphans(od)).map((o) => o.name);

  const attach = attacher.attach(attachOrderFromProto(request({ hostIf: 'br9' }), sys));
  await runner.reached; // in flight: br9 held, no record yet
  assert.deepEqual(await names(), []);
  const forced = await removeOrphans(od, [{ type: 'link', name: 'br9', detail: '' }]);
  assert.deepEqual(forced, [], 'an attach in flight holds it');
  runner.open();
  const made = await attach;
  assert.deepEqual(await names(), [], 'its record uses it');
  assert.equal(dels(), 0);

  records.delete(made.record.key); // as if the agent died before writing it
  assert.deepEqual(await names(), ['br9']);
  const removed = await removeOrphans(od, await findOrphans(od));
  assert.deepEqual(
    removed.map((o) => [o.type, o.name]),
    [['link', 'br9']],
  );
  assert.equal(dels(), 1);
});
