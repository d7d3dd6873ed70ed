// Races on one bridge. Two attaches onto a bridge that does not exist yet, at once (20 parallel CNI ADDs did
// this): the first makes it; the kernel shows a new bridge in sysfs a moment before its bridge/ entries, when it
// still looks like an Ethernet interface. The second must wait for the first to finish making it, and must never
// read it half-made (a `--kind bridge` order then failed with "'br7' is an Ethernet interface"; one without
// --kind would have made a macvlan on the bridge). And a detach of the bridge's last attachment must not remove
// it (a bridge fleetnet made) while another attach that has looked at it is still on its way to plug into it.
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { Attacher } from '../../agent/attach/attacher.js';
import { RecordStore } from '../../agent/attach/records.js';
import { ipExec } from '../../agent/linux/ip.js';
import type { Capability } from '../../agent/linux/capabilities.js';
import { readHostLink } from '../../agent/linux/sysfs.js';
import { attachOrderFromProto, detachOrderFromProto } from '../../agent/service/convert.js';
import { FakeRunner, type RecordedCall, type RunOptions, type RunResult } from '../../common/runner.js';
import { CONTAINER, fakeSys, request, tmp } from './parity-fixtures.js';

const log = pino({ level: 'silent' });

function link(sys: string, name: string, files: Record<string, string>): void {
  for (const [f, v] of Object.entries(files)) {
    mkdirSync(join(sys, name, f, '..'), { recursive: true });
    writeFileSync(join(sys, name, f), `${v}\n`);
  }
}

/** An attacher on this fake host (one container, pid 4242). */
function attacherOn(runner: FakeRunner, sys: string, capabilities: () => Promise<Capability[]> = async () => []) {
  const records = new RecordStore(tmp('fnp-br-'));
  const resolver = { resolve: async () => CONTAINER };
  return new Attacher({
    runner,
    ip: ipExec(runner),
    records,
    resolver,
    log,
    sysClassNet: sys,
    garp: false,
    capabilities,
  });
}

/** Making br7 shows it as a plain Ethernet link until open(), then as the bridge it is. */
class HalfMadeBridge extends FakeRunner {
  readonly reached: Promise<void>;
  private arrive!: () => void;
  private release!: () => void;
  private readonly gate = new Promise<void>((r) => (this.release = r));

  constructor(private readonly sys: string) {
    super((call: RecordedCall) => {
      const m = /addr show dev (eth\d)/.exec(call.input ?? '');
      if (call.cmd !== 'nsenter' || !m) return undefined;
      const addr_info = [...(call.input ?? '').matchAll(/addr add (\S+)\/(\d+) dev/g)].map((a) => {
        return { family: 'inet', local: a[1], prefixlen: Number(a[2]), scope: 'global' };
      });
      return { stdout: JSON.stringify([{ ifname: m[1], mtu: 1500, address: '02:00:00:aa:bb:cc', addr_info }]) };
    });
    this.reached = new Promise((r) => (this.arrive = r));
  }

  open(): void {
    this.release();
  }

  override async run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult> {
    if (cmd === 'ip' && /link add (name )?br7 .*type bridge/.test(opts?.input ?? '')) {
      link(this.sys, 'br7', { type: '1', mtu: '1500', address: '02:00:00:00:00:07' });
      this.arrive();
      await this.gate;
      link(this.sys, 'br7', { uevent: 'DEVTYPE=bridge\nINTERFACE=br7', 'bridge/vlan_filtering': '0' });
    }
    return super.run(cmd, args, opts);
  }
}

test('a second attach onto a bridge being made waits for it and plugs a veth into it', async () => {
  const sys = fakeSys();
  const runner = new HalfMadeBridge(sys);
  const attacher = attacherOn(runner, sys);
  const order = (ifname: string, ip: string) =>
    attachOrderFromProto(
      request({ hostIf: 'br7', ifname, addresses: [{ static: { cidr: `${ip}/24`, gateway: '' } }] }),
      sys,
    );
  const first = attacher.attach(order('eth1', '10.9.0.1'));
  await runner.reached; // br7 is in sysfs, not yet a bridge there
  const second = attacher.attach(order('eth2', '10.9.0.2'));
  await new Promise((r) => setTimeout(r, 50)); // the second goes as far as it may
  runner.open();
  const [a, b] = await Promise.all([first, second]);
  assert.equal(a.record.kind, 'bridge');
  assert.equal(b.record.kind, 'bridge');
  const made = runner.calls.map((c) => c.input ?? '').join('\n');
  assert.doesNotMatch(made, /type macvlan/);
  assert.equal((made.match(/type bridge/g) ?? []).length, 1, 'br7 is made once');
});

/**
 * Making br7 makes it at once, as a bridge fleetnet owns; deleting it removes it; `deleted` lists what went.
 * With failVeth, making a veth fails.
 */
class Bridges extends FakeRunner {
  readonly deleted: string[] = [];
  constructor(
    private readonly sys: string,
    failVeth = false,
  ) {
    super((call: RecordedCall) => {
      if (failVeth && call.cmd === 'ip' && /type veth/.test(call.input ?? '')) return { code: 1, stderr: 'boom' };
      const m = /addr show dev (eth\d)/.exec(call.input ?? '');
      if (call.cmd !== 'nsenter' || !m) return undefined;
      const addr_info = [...(call.input ?? '').matchAll(/addr add (\S+)\/(\d+) dev/g)].map((a) => {
        return { family: 'inet', local: a[1], prefixlen: Number(a[2]), scope: 'global' };
      });
      return { stdout: JSON.stringify([{ ifname: m[1], mtu: 1500, address: '02:00:00:aa:bb:cc', addr_info }]) };
    });
  }

  override async run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult> {
    if (cmd === 'ip' && /link add (name )?br7 .*type bridge/.test(opts?.input ?? ''))
      link(this.sys, 'br7', {
        type: '1',
        mtu: '1500',
        address: '02:00:00:00:00:07',
        ifalias: 'fleetnet:owned',
        uevent: 'DEVTYPE=bridge\nINTERFACE=br7',
        'bridge/vlan_filtering': '0',
      });
    if (cmd === 'ip' && args.join(' ') === 'link del br7') {
      rmSync(join(this.sys, 'br7'), { recursive: true, force: true });
      this.deleted.push('br7');
    }
    return super.run(cmd, args, opts);
  }
}

test('a detach leaves the bridge fleetnet made while an attach that has looked at it is on its way', async () => {
  const sys = fakeSys();
  const runner = new Bridges(sys);
  let gate: Promise<void> | undefined;
  let open!: () => void;
  let arrive!: () => void;
  const reached = new Promise<void>((r) => (arrive = r));
  // A VLAN port needs bridge-vlan-filtering: the second attach asks here, after it has looked at br7.
  const attacher = attacherOn(runner, sys, async () => {
    if (gate) arrive();
    await gate;
    return [];
  });
  const order = (ifname: string, ip: string, vlan = '') =>
    attachOrderFromProto(
      request({ hostIf: 'br7', ifname, vlan, addresses: [{ static: { cidr: `${ip}/24`, gateway: '' } }] }),
      sys,
    );
  const first = await attacher.attach(order('eth1', '10.9.0.1'));
  assert.deepEqual(first.record.owned, [{ type: 'link', name: 'br7' }]);
  gate = new Promise<void>((r) => (open = r));
  const second = attacher.attach(order('eth2', '10.9.0.2', '10'));
  await reached;
  const target = { kind: 'pid', value: '4242' };
  assert.deepEqual(await attacher.detach(detachOrderFromProto({ target, ifname: 'eth1', attachmentId: '' })), {
    removed: true,
  });
  open();
  assert.equal((await second).record.kind, 'bridge');
  assert.deepEqual(runner.deleted, [], 'br7 was removed under the second attach');
});

test('an attach that made the bridge and then failed removes it: its own hold does not keep it', async () => {
  const sys = fakeSys();
  const runner = new Bridges(sys, true);
  const attacher = attacherOn(runner, sys);
  const req = request({ hostIf: 'br7', addresses: [{ static: { cidr: '10.9.0.1/24', gateway: '' } }] });
  await assert.rejects(attacher.attach(attachOrderFromProto(req, sys)), /boom/);
  assert.deepEqual(runner.deleted, ['br7']);
});

test('sysfs: a link whose uevent says DEVTYPE=bridge is a bridge, also before its bridge/ entries exist', () => {
  const sys = tmp('fnp-sysfs-');
  link(sys, 'brnew', { type: '1', mtu: '1500', address: '02:00:00:00:00:01', uevent: 'DEVTYPE=bridge\nINTERFACE=b' });
  link(sys, 'nic', { type: '1', mtu: '9000', address: '02:00:00:00:00:02', uevent: 'INTERFACE=nic\nIFINDEX=3' });
  link(sys, 'ib0', { type: '32', mtu: '2044', address: '80:00', uevent: 'INTERFACE=ib0' });
  assert.equal(readHostLink('brnew', sys)?.kind, 'bridge');
  assert.deepEqual(readHostLink('nic', sys), {
    name: 'nic',
    kind: 'ether',
    mtu: 9000,
    alias: '',
    mac: '02:00:00:00:00:02',
  });
  assert.equal(readHostLink('ib0', sys)?.kind, 'infiniband');
  assert.equal(readHostLink('gone', sys), undefined);
});
