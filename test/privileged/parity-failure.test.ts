// Failure at every step for the kinds this kernel can run besides the Linux bridge (macvlan, OVS):
// the k-th command fails (before it runs, or after it acted) and the others run for real inside a
// test host namespace; ip -json dumps (and the OVS database) are equal before and after.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Attacher } from '../../agent/attach/attacher.js';
import type { AttachOrder } from '../../agent/attach/order.js';
import { RecordStore } from '../../agent/attach/records.js';
import { ContainerResolver } from '../../agent/containers/resolve.js';
import type { Capability } from '../../agent/linux/capabilities.js';
import { ipExec } from '../../agent/linux/ip.js';
import { FleetnetError } from '../../common/errors.js';
import { silentLogger } from '../../common/logger.js';
import type { Runner } from '../../common/runner.js';
import { netlinkIp, type OpHook } from '../../agent/linux/ip-netlink.js';
import { loadRtnl } from '../../agent/linux/rtnetlink.js';
import { dumpNs, FailAtStep, mountNsSysfs, NsRunner } from '../helpers/netns.js';
import { netns, scope, sh, startOvs, tempDir, uniq, type After } from './parity-env.js';
import { attachOrder as order } from '../helpers/attach-order.js';

/** Read-only detections whose failure reads as "no" (not there, not ours): they may fail without failing the attach. */
const READ_ONLY_OVS = /\b(br-exists|br-get-external-id|list-ports|list bridge)\b/;
const READ_ONLY_IP = /\bip -json link show dev \S+/;
const readOnly = (call: string) =>
  (call.startsWith('ovs-vsctl ') && READ_ONLY_OVS.test(call)) || READ_ONLY_IP.test(call);
const ALL: Capability[] = ['macvlan', 'ovs', 'ovs-netdev'].map((name) => ({ name, available: true, detail: '' }));

type IpPath = 'exec' | 'netlink';
const PATHS: IpPath[] = ['exec', 'netlink'];

/** The agent's two ways of doing its `ip` work: execs, or in-process netlink (with a hook on each operation). */
function ipFor(path: IpPath, runner: Runner, hostNs: string, hook?: OpHook) {
  const exec = ipExec(runner);
  if (path === 'exec') return exec;
  const rt = loadRtnl();
  if (typeof rt === 'string') throw new Error(`in-process netlink must load here: ${rt}`);
  return netlinkIp(rt, exec, { hostNetns: hostNs, ...(hook ? { hook } : {}) });
}

async function everyStepFails(
  t: After,
  path: IpPath,
  host: string,
  cont: string,
  o: AttachOrder,
  extraState: () => Promise<string>,
  ovsDb?: string,
): Promise<number> {
  const sysfs = await mountNsSysfs(`/run/netns/${host}`);
  t.after(() => sysfs.release());
  const make = (f: FailAtStep, dir: string) => {
    const records = new RecordStore(dir);
    const runner = f.runner;
    const attacher = new Attacher({
      runner,
      ip: ipFor(path, runner, `/run/netns/${host}`, f.hook),
      records,
      log: silentLogger(),
      sysClassNet: sysfs.classNet,
      garp: false,
      resolver: new ContainerResolver({ runner, docker: () => undefined, netnsDir: '/run/netns' }),
      capabilities: async () => ALL,
      ovsDatapath: 'netdev',
      ...(ovsDb ? { ovsDb } : {}),
    });
    return { attacher, records };
  };
  const state = async () =>
    [await dumpNs(`/run/netns/${host}`), await dumpNs(`/run/netns/${cont}`), await extraState()].join('\n');
  const probe = new FailAtStep(new NsRunner(`/run/netns/${host}`));
  const ok = make(probe, tempDir(t, 'fnp-ok'));
  const before = await state();
  await ok.attacher.attach(o);
  const steps = probe.calls.length;
  await ok.attacher.detach({ target: o.target, ifname: o.ifname });
  assert.equal(await state(), before, 'attach then detach leaves nothing');
  for (const mode of ['before', 'after'] as const) {
    for (let k = 1; k <= steps; k++) {
      const d = mkdtempSync(join(tmpdir(), 'fnp-state-'));
      const { attacher, records } = make(new FailAtStep(new NsRunner(`/run/netns/${host}`), k, mode), d);
      const call = probe.calls[k - 1]!;
      const what = `step ${k} of ${steps} (${call.slice(0, 60)}) failing ${mode} it ran`;
      const outcome = await attacher.attach(o).then(
        () => 'attached',
        (e: unknown) => e,
      );
      if (outcome === 'attached') {
        // Only a read-only detection may fail without failing the attach (br-exists failing reads as "no",
        // a container interface that cannot be shown is not there to adopt, a bridge's datapath not known broken).
        assert.ok(readOnly(call), `${what} did not fail the attach`);
        await attacher.detach({ target: o.target, ifname: o.ifname });
      } else assert.ok(outcome instanceof FleetnetError, `${what}: ${String(outcome)}`);
      assert.equal(records.all().length, 0, `no record after ${what}`);
      assert.equal(await state(), before, `nothing left after ${what}`);
      rmSync(d, { recursive: true, force: true });
    }
  }
  return steps;
}

for (const path of PATHS)
  test(
    `macvlan (${path}): a failure at any step leaves nothing ` + `(also a container eth1 that is not ours stays)`,
    async (tc) => {
      const t = scope(tc);
      const p = uniq();
      const host = await netns(t, `${p}-h`);
      const cont = await netns(t, `${p}-c`);
      await sh('ip', ['-n', host, 'link', 'add', 'nic0', 'type', 'veth', 'peer', 'name', 'nic0p']);
      await sh('ip', ['-n', host, 'link', 'set', 'nic0', 'up']);
      const steps = await everyStepFails(
        t,
        path,
        host,
        cont,
        order(['nic0', `netns:${cont}`, '10.60.0.2/24@10.60.0.1', 'fd60::2/64@fd60::1'], { macvlanMode: 'private' }),
        async () => '',
      );
      assert.ok(steps >= 4, `${steps} commands`);
      // The container already has an eth1 of its own: the attach fails and that eth1 is untouched.
      await sh('ip', ['-n', cont, 'link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'theirs']);
      const before = await dumpNs(`/run/netns/${cont}`);
      const sysfs = await mountNsSysfs(`/run/netns/${host}`);
      t.after(() => sysfs.release());
      const runner = new NsRunner(`/run/netns/${host}`);
      const a = new Attacher({
        runner,
        ip: ipFor(path, runner, `/run/netns/${host}`),
        records: new RecordStore(tempDir(t, 'fnp-st')),
        log: silentLogger(),
        sysClassNet: sysfs.classNet,
        garp: false,
        resolver: new ContainerResolver({ runner, docker: () => undefined, netnsDir: '/run/netns' }),
        capabilities: async () => ALL,
      });
      await assert.rejects(a.attach(order(['nic0', `netns:${cont}`, '10.60.0.2/24'])), FleetnetError);
      assert.equal(await dumpNs(`/run/netns/${cont}`), before);
    },
  );

for (const path of PATHS)
  test(
    `OVS (${path}; new netdev bridge, tagged port): ` +
      `a failure at any step leaves nothing, in the kernel and in the OVS database`,
    async (tc) => {
      const t = scope(tc);
      const p = uniq();
      const host = await netns(t, `${p}-h`);
      const cont = await netns(t, `${p}-c`);
      const db = await startOvs(t, host, tempDir(t, p));
      const ovsState = async () =>
        (await sh('ovs-vsctl', [`--db=${db}`, '--format=json', 'list', 'port'])).stdout.length +
        ' ' +
        (await sh('ovs-vsctl', [`--db=${db}`, 'list-br'])).stdout;
      const steps = await everyStepFails(
        t,
        path,
        host,
        cont,
        order([`ovs${p}`.slice(0, 15), `netns:${cont}`, '10.61.0.2/24', '@7']),
        ovsState,
        db,
      );
      assert.ok(steps >= 5, `${steps} commands`);
    },
  );
