// The orphan sweep and a re-asked attach meet on one host-side name: a killed agent left its veth (marked,
// held by no record), the lifecycle's sweep has begun to remove it, and the attach asked again for the same
// container and interface starts meanwhile. The attach waits for the removal to end before it looks at the
// name, so the sweep's delete can never land on the pair the attach has just made (or adopted); and a sweep
// that finds the name held by an attach leaves it alone.
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { Attacher } from '../../agent/attach/attacher.js';
import { HostNameClaims } from '../../agent/attach/host-names.js';
import { RecordStore } from '../../agent/attach/records.js';
import { findOrphans, removeOrphans } from '../../agent/lifecycle/orphans.js';
import { ipExec } from '../../agent/linux/ip.js';
import { OvsCtl } from '../../agent/ovs/vsctl.js';
import { attachOrderFromProto } from '../../agent/service/convert.js';
import { FakeRunner, type RecordedCall, type RunOptions, type RunResult } from '../../common/runner.js';
import { CONTAINER, eth1ReadBack, fakeSys, request, tmp, TMP_ETH1 } from './parity-fixtures.js';

const MARK = 'fleetnet:a0123456789';
const log = pino({ level: 'silent' });

/** A runner whose first `ip link del` of the leftover waits for open(); what happened, in order, in `events`. */
class GatedRunner extends FakeRunner {
  readonly events: string[] = [];
  private gated = false;
  private release!: () => void;
  private readonly gate = new Promise<void>((r) => (this.release = r));
  readonly reached: Promise<void>;
  private arrive!: () => void;

  constructor(
    private readonly sys: string,
    answer: (call: RecordedCall) => Partial<RunResult> | undefined,
  ) {
    super(answer);
    this.reached = new Promise((r) => (this.arrive = r));
  }

  open(): void {
    this.release();
  }

  override async run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult> {
    const del = cmd === 'ip' && args.join(' ') === `link del ${TMP_ETH1}`;
    if (del && !this.gated) {
      this.gated = true;
      this.events.push('sweep: del begins');
      this.arrive();
      await this.gate;
      rmSync(join(this.sys, TMP_ETH1), { recursive: true, force: true });
      this.events.push('sweep: del done');
    } else if (del) {
      rmSync(join(this.sys, TMP_ETH1), { recursive: true, force: true });
      this.events.push('attach: del');
    }
    if (cmd === 'ip' && / type veth peer name eth1 /.test(opts?.input ?? '')) this.events.push('attach: veth made');
    return super.run(cmd, args, opts);
  }
}

/** The host end of a veth the killed agent made and marked, held by no record. */
function leftover(sys: string): void {
  mkdirSync(join(sys, TMP_ETH1), { recursive: true });
  for (const [f, v] of Object.entries({ type: '1', mtu: '1500', address: '02:00:00:00:00:77', ifalias: MARK }))
    writeFileSync(join(sys, TMP_ETH1, f), `${v}\n`);
}

test('an attach that starts while the sweep removes its leftover waits: the delete never hits its pair', async () => {
  const sys = fakeSys();
  leftover(sys);
  const runner = new GatedRunner(sys, eth1ReadBack);
  const records = new RecordStore(tmp('fnp-sweep-'));
  const attacher = new Attacher({
    runner,
    ip: ipExec(runner),
    records,
    resolver: { resolve: async () => CONTAINER },
    log,
    sysClassNet: sys,
    garp: false,
    ownerMark: MARK,
    capabilities: async () => [],
  });
  const od = {
    runner,
    ovs: new OvsCtl(runner),
    records,
    inProgress: () => attacher.inProgress(),
    removeIfUnclaimed: (n: string, rm: () => Promise<void>) => attacher.removeIfUnclaimed(n, rm),
    ownerMark: MARK,
    privateOvs: true,
    sysClassNet: sys,
    log,
  };
  const found = await findOrphans(od);
  assert.deepEqual(
    found.map((o) => o.name),
    [TMP_ETH1],
  );
  const sweep = removeOrphans(od, found);
  await runner.reached; // the sweep's delete is under way
  const attach = attacher.attach(attachOrderFromProto(request({ hostIf: 'br9' }), sys));
  await new Promise((r) => setTimeout(r, 50)); // the attach goes as far as it may
  runner.open();
  const [removed, res] = await Promise.all([sweep, attach]);
  assert.deepEqual(
    removed.map((o) => o.name),
    [TMP_ETH1],
  );
  assert.equal(res.changed, true);
  assert.deepEqual(runner.events, ['sweep: del begins', 'sweep: del done', 'attach: veth made']);
});

test('a sweep that finds the name held by an attach leaves it; an attach waits for a removal under way', async () => {
  const claims = new HostNameClaims();
  await claims.claim('fnaaaaaaaaaaaa');
  let ran = false;
  assert.equal(await claims.ifUnclaimed('fnaaaaaaaaaaaa', async () => void (ran = true)), false);
  assert.equal(ran, false);
  await claims.claim('fnaaaaaaaaaaaa'); // a second order naming the same link
  claims.release('fnaaaaaaaaaaaa');
  assert.ok(claims.names().has('fnaaaaaaaaaaaa'), 'held while one attach still holds it');
  claims.release('fnaaaaaaaaaaaa');
  assert.equal(claims.names().size, 0);

  const order: string[] = [];
  let finish!: () => void;
  const removal = claims.ifUnclaimed('fnbbbbbbbbbbbb', async () => {
    await new Promise<void>((r) => (finish = r));
    order.push('removed');
  });
  const claimed = claims.claim('fnbbbbbbbbbbbb').then(() => order.push('claimed'));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(order, [], 'the claim waits');
  finish();
  assert.equal(await removal, true);
  await claimed;
  assert.deepEqual(order, ['removed', 'claimed']);
  await assert.rejects(
    claims.ifUnclaimed('fncccccccccccc', async () => {
      throw new Error('ovs-vsctl failed');
    }),
    /ovs-vsctl failed/,
  );
  await claims.claim('fncccccccccccc'); // a failed removal does not hold the name
});
