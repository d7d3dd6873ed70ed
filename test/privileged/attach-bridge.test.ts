// Linux-bridge attach with real namespaces and real Docker containers, the agent acting inside a
// test "host" namespace. Nothing here touches the machine's own namespace.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ChildProcess } from 'node:child_process';
import Docker from 'dockerode';
import { FleetnetError } from '../../common/errors.js';
import { parseIfName } from '../../common/ifname.js';
import { silentLogger } from '../../common/logger.js';
import type { Runner } from '../../common/runner.js';
import { Attacher } from '../../agent/attach/attacher.js';
import { RecordStore } from '../../agent/attach/records.js';
import { ContainerResolver } from '../../agent/containers/resolve.js';
import { ipExec } from '../../agent/linux/ip.js';
import { netlinkIp, type OpHook } from '../../agent/linux/ip-netlink.js';
import { loadRtnl, type Rtnl } from '../../agent/linux/rtnetlink.js';
import { removeContainers, startContainer, type TestContainer } from '../helpers/docker.js';
import {
  addNs,
  delNs,
  dumpNs,
  FailAtStep,
  mountNsSysfs,
  NsRunner,
  sh,
  startNsProcess,
  uniquePrefix,
} from '../helpers/netns.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attachOrder as order } from '../helpers/attach-order.js';

const P = uniquePrefix('br');
const HOST = `${P}-h`;
const label = P;
const docker = new Docker({ socketPath: '/var/run/docker.sock' });
let hostNs: string;
let sysfs: { classNet: string; release(): Promise<void> };
let stateDir: string;
let c1: TestContainer;
let c2: TestContainer;
const nsProcs: ChildProcess[] = [];
const extraNs: string[] = [];

// Every test runs twice: with the agent's `ip -batch` execs, and with its in-process netlink path.
type IpPath = 'exec' | 'netlink';
let ipPath: IpPath = 'exec';
const loaded = loadRtnl();
const rtnl = (): Rtnl => {
  assert.notEqual(typeof loaded, 'string', `in-process netlink must load here: ${String(loaded)}`);
  return loaded as Rtnl;
};

function makeAttacher(
  runner: Runner,
  opts: { garp?: boolean; dir?: string; hook?: OpHook } = {},
): { attacher: Attacher; records: RecordStore } {
  const records = new RecordStore(opts.dir ?? stateDir);
  const resolver = new ContainerResolver({ runner, docker: () => docker, netnsDir: '/run/netns' });
  const exec = ipExec(runner);
  const ip =
    ipPath === 'exec'
      ? exec
      : netlinkIp(rtnl(), exec, { hostNetns: hostNs, ...(opts.hook ? { hook: opts.hook } : {}) });
  const attacher = new Attacher({
    runner,
    ip,
    records,
    resolver,
    log: silentLogger(),
    sysClassNet: sysfs.classNet,
    garp: opts.garp ?? false,
  });
  return { attacher, records };
}

/** A recorder of every step, exec or netlink: what a test reads to say "nothing was changed". */
function recorder(): { runner: Runner; hook: OpHook; writes(from?: number): string[]; readonly n: number } {
  const f = new FailAtStep(new NsRunner(hostNs));
  return {
    runner: f.runner,
    hook: f.hook,
    get n() {
      return f.calls.length;
    },
    writes: (from = 0) => f.calls.slice(from).filter((c) => /\b(add|set|del|replace)\b/.test(c)),
  };
}

async function inContainer(c: { pid: number }, ...args: string[]) {
  return sh.run('nsenter', [`--net=/proc/${c.pid}/ns/net`, ...args], { allowFail: true });
}

async function ping(from: { pid: number }, to: string): Promise<boolean> {
  const r = await inContainer(from, 'ping', '-c', '1', '-W', '2', to);
  return r.code === 0;
}

async function newNs(tag: string): Promise<string> {
  const name = `${P}-${tag}${ipPath === 'exec' ? '' : 'n'}`;
  extraNs.push(name);
  return addNs(name);
}

before(async () => {
  hostNs = await addNs(HOST);
  sysfs = await mountNsSysfs(hostNs);
  stateDir = mkdtempSync(join(tmpdir(), 'fleetnet-state-'));
  c1 = await startContainer(`${P}-c1`, label);
  c2 = await startContainer(`${P}-c2`, label);
});

after(async () => {
  for (const p of nsProcs) p.kill('SIGKILL');
  await removeContainers(label);
  for (const n of extraNs) await delNs(n);
  await sysfs?.release();
  await delNs(HOST);
  rmSync(stateDir, { recursive: true, force: true });
});

for (const path of ['exec', 'netlink'] as const)
  describe(`attach to a Linux bridge (${path})`, () => {
    before(() => {
      ipPath = path;
    });
    it('two Docker containers on one new bridge ping each other; the bridge goes with the last detach', async () => {
      const { attacher } = makeAttacher(new NsRunner(hostNs));
      const a = await attacher.attach(order(['br-t1', `${P}-c1`, '10.50.1.1/24']));
      const b = await attacher.attach(
        order(['br-t1', `docker:${c2.id.slice(0, 12)}`, '10.50.1.2/24', 'U:myhost.foo.com']),
      );
      assert.equal(a.changed, true);
      assert.equal(b.record.mac, '02:72:6c:cd:9b:8d');
      assert.equal(b.record.container.name, `${P}-c2`);
      assert.equal(b.record.container.id, c2.id);
      assert.ok(await ping(c1, '10.50.1.2'), 'c1 reaches c2 over the bridge');
      const list = attacher.list();
      assert.equal(list.length, 2);
      assert.ok(
        list.every(
          (r) => r.hostIf === 'br-t1' && r.mtu === 1500 && r.hostIfname.startsWith('fn') && r.container.pid > 0,
        ),
      );
      assert.equal(
        (await attacher.detach({ target: { kind: 'auto', value: `${P}-c1` }, ifname: parseIfName('eth1') })).removed,
        true,
      );
      assert.match(
        (await sh.run('ip', ['-n', HOST, 'link', 'show', 'br-t1'])).stdout,
        /br-t1/,
        'bridge stays while c2 uses it',
      );
      await attacher.detach({ target: { kind: 'auto', value: `${P}-c2` }, ifname: parseIfName('eth1') });
      const gone = await sh.run('ip', ['-n', HOST, 'link', 'show', 'br-t1'], { allowFail: true });
      assert.notEqual(gone.code, 0, 'the bridge fleetnet created is removed with its last attachment');
    });

    it('PID and named-netns targets; a found bridge survives; MTU comes from the bridge unless given', async () => {
      await sh.run('ip', ['-n', HOST, 'link', 'add', 'br-found', 'mtu', '1400', 'type', 'bridge']);
      await sh.run('ip', ['-n', HOST, 'link', 'set', 'br-found', 'up']);
      const proc = startNsProcess();
      nsProcs.push(proc);
      await new Promise((r) => setTimeout(r, 100));
      const ns = await newNs('n1');
      const Nn1 = ns.slice('/run/netns/'.length);
      const { attacher } = makeAttacher(new NsRunner(hostNs));
      const a = await attacher.attach(order(['br-found', String(proc.pid), '10.50.2.1/24']));
      const b = await attacher.attach(order(['br-found', `netns:${Nn1}`, '10.50.2.2/24'], { mtu: 1300 }));
      assert.equal(a.record.container.runtime, 'pid');
      assert.equal(a.record.mtu, 1400);
      assert.equal(b.record.mtu, 1300);
      assert.ok(await ping({ pid: proc.pid! }, '10.50.2.2'));
      assert.equal(attacher.liveState(a.record), 'up');
      // The process (the "container") exits: its namespace and veth go with it; detach still succeeds.
      proc.kill('SIGKILL');
      await new Promise((r) => proc.once('exit', r));
      for (let i = 0; i < 50 && attacher.liveState(a.record) !== 'container-gone'; i++)
        await new Promise((r) => setTimeout(r, 50));
      assert.equal(attacher.liveState(a.record), 'container-gone');
      assert.equal(
        (await attacher.detach({ target: { kind: 'pid', value: String(proc.pid) }, ifname: parseIfName('eth1') }))
          .removed,
        true,
      );
      assert.equal(attacher.list().filter((r) => r.container.runtime === 'pid').length, 0);
      await attacher.detach({ target: { kind: 'path', value: ns }, ifname: parseIfName('eth1') });
      assert.equal(
        (await sh.run('ip', ['-n', HOST, 'link', 'show', 'br-found'])).code,
        0,
        'a bridge fleetnet found is never removed',
      );
      await sh.run('ip', ['-n', HOST, 'link', 'del', 'br-found']);
    });

    it('IPv4 only: no IPv6 link-local on either veth end (no frames flooded); IPv6 or 0/0 keep theirs', async () => {
      const { attacher } = makeAttacher(new NsRunner(hostNs));
      const name = (ns: string) => ns.slice('/run/netns/'.length);
      const [v4, dual, none] = [await newNs('l4'), await newNs('l6'), await newNs('l0')];
      const linkLocal = async (ns: string, dev: string) =>
        /inet6 fe80::/.test((await sh.run('ip', ['-n', ns, '-o', '-6', 'addr', 'show', 'dev', dev])).stdout);
      try {
        const a = await attacher.attach(order(['br-ll', `netns:${name(v4)}`, '10.50.9.1/24']));
        const b = await attacher.attach(order(['br-ll', `netns:${name(dual)}`, '10.50.9.2/24', 'fd00:9::2/64']));
        const c = await attacher.attach(order(['br-ll', `netns:${name(none)}`, '0/0']));
        // The kernel makes one in these namespaces (IPv6 on): wait until the two that keep theirs have it.
        for (let i = 0; i < 100; i++) {
          if ((await linkLocal(name(dual), 'eth1')) && (await linkLocal(name(none), 'eth1'))) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        assert.ok(await linkLocal(name(dual), 'eth1'), 'an attach with IPv6 keeps its link-local');
        assert.ok(await linkLocal(name(none), 'eth1'), '0/0 (addresses set by hand later) keeps it');
        assert.equal(await linkLocal(name(v4), 'eth1'), false, 'IPv4 only: no link-local in the container');
        for (const r of [a, b, c])
          assert.equal(await linkLocal(HOST, r.record.hostIfname), false, 'the host-side bridge port has none');
        // IPv6 stays on: an address added by hand later answers.
        await sh.run('ip', ['-n', name(v4), 'addr', 'add', 'fd00:9::1/64', 'dev', 'eth1', 'nodad']);
        const reach = await sh.run('ip', ['netns', 'exec', name(dual), 'ping', '-c', '1', '-W', '2', 'fd00:9::1'], {
          allowFail: true,
        });
        assert.equal(reach.code, 0, `the IPv4-only interface answers on an IPv6 address added later: ${reach.stderr}`);
      } finally {
        for (const ns of [v4, dual, none])
          await attacher.detach({ target: { kind: 'path', value: ns }, ifname: parseIfName('eth1') });
      }
    });

    it('re-attach is idempotent; a conflicting one is refused; detach twice succeeds', async () => {
      const rec = recorder();
      const { attacher } = makeAttacher(rec.runner, { hook: rec.hook });
      const o = order(['br-t3', `${P}-c1`, '10.50.3.1/24']);
      const first = await attacher.attach(o);
      assert.ok(rec.writes().length > 0, 'the recorder sees what an attach changes');
      const n = rec.n;
      const again = await attacher.attach(o);
      assert.equal(again.changed, false);
      assert.deepEqual(again.record, first.record);
      assert.deepEqual(rec.writes(n), [], 'a repeated attach only reads');
      await assert.rejects(
        attacher.attach(order(['br-t3', `${P}-c1`, '10.50.3.9/24'])),
        (e: unknown) => e instanceof FleetnetError && e.kind === 'conflict' && /detach it first/.test(e.hint ?? ''),
      );
      const d1 = await attacher.detach({ target: { kind: 'auto', value: `${P}-c1` }, ifname: parseIfName('eth1') });
      const d2 = await attacher.detach({ target: { kind: 'auto', value: `${P}-c1` }, ifname: parseIfName('eth1') });
      assert.deepEqual([d1.removed, d2.removed], [true, false]);
      assert.notEqual((await inContainer(c1, 'ip', 'link', 'show', 'eth1')).code, 0);
    });

    it('20 identical attaches at once make one interface and identical replies', async () => {
      const { attacher } = makeAttacher(new NsRunner(hostNs));
      const o = order(['br-t4', `${P}-c2`, '10.50.4.2/24']);
      const res = await Promise.all(Array.from({ length: 20 }, () => attacher.attach(o)));
      assert.equal(res.filter((r) => r.changed).length, 1);
      assert.ok(res.every((r) => JSON.stringify(r.record) === JSON.stringify(res[0]!.record)));
      const links = JSON.parse((await inContainer(c2, 'ip', '-json', 'link', 'show')).stdout) as { ifname: string }[];
      assert.equal(links.filter((l) => l.ifname === 'eth1').length, 1);
      await attacher.detach({ target: { kind: 'auto', value: `${P}-c2` }, ifname: parseIfName('eth1') });
    });

    it('@gateway replaces the default route (IPv4 and IPv6); detach restores the old one', async () => {
      const ns = await newNs('gw');
      const Ngw = ns.slice('/run/netns/'.length);
      // The "container" has an uplink of its own with a default route, as Docker's eth0 would.
      await sh.run('ip', ['-n', Ngw, 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up1']);
      for (const l of ['up0', 'up1']) await sh.run('ip', ['-n', Ngw, 'link', 'set', l, 'up']);
      await sh.run('ip', ['-n', Ngw, 'addr', 'add', '172.31.9.2/24', 'dev', 'up0']);
      await sh.run('ip', ['-n', Ngw, 'addr', 'add', 'fd09::2/64', 'dev', 'up0', 'nodad']);
      await sh.run('ip', ['-n', Ngw, 'route', 'add', 'default', 'via', '172.31.9.1']);
      await sh.run('ip', ['-n', Ngw, '-6', 'route', 'add', 'default', 'via', 'fd09::1']);
      const { attacher } = makeAttacher(new NsRunner(hostNs));
      await attacher.attach(order(['br-t5', `netns:${Ngw}`, '10.50.5.2/24@10.50.5.1', 'fd05::2/64@fd05::1']));
      const def4 = JSON.parse((await sh.run('ip', ['-n', Ngw, '-json', 'route', 'show', 'default'])).stdout);
      const def6 = JSON.parse((await sh.run('ip', ['-n', Ngw, '-6', '-json', 'route', 'show', 'default'])).stdout);
      assert.deepEqual([def4[0].gateway, def4[0].dev], ['10.50.5.1', 'eth1']);
      assert.deepEqual([def6[0].gateway, def6[0].dev], ['fd05::1', 'eth1']);
      await attacher.detach({ target: { kind: 'path', value: ns }, ifname: parseIfName('eth1') });
      const back4 = JSON.parse((await sh.run('ip', ['-n', Ngw, '-json', 'route', 'show', 'default'])).stdout);
      const back6 = JSON.parse((await sh.run('ip', ['-n', Ngw, '-6', '-json', 'route', 'show', 'default'])).stdout);
      assert.deepEqual([back4[0].gateway, back4[0].dev], ['172.31.9.1', 'up0']);
      assert.deepEqual([back6[0].gateway, back6[0].dev], ['fd09::1', 'up0']);
    });

    it('a failure at any step leaves the host and the container exactly as before', async () => {
      const ns = await newNs('fail');
      const Nfail = ns.slice('/run/netns/'.length);
      await sh.run('ip', ['-n', Nfail, 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', 'up1']);
      for (const l of ['up0', 'up1']) await sh.run('ip', ['-n', Nfail, 'link', 'set', l, 'up']);
      await sh.run('ip', ['-n', Nfail, 'addr', 'add', '172.31.8.2/24', 'dev', 'up0']);
      await sh.run('ip', ['-n', Nfail, 'route', 'add', 'default', 'via', '172.31.8.1']);
      const o = order(['br-t6', `netns:${Nfail}`, '10.50.6.2/24@10.50.6.1', 'fd06::2/64']);
      // How many commands does a successful attach run?
      const dir = mkdtempSync(join(tmpdir(), 'fleetnet-state-'));
      const probe = new FailAtStep(new NsRunner(hostNs));
      const okA = makeAttacher(probe.runner, { dir, hook: probe.hook });
      await okA.attacher.attach(o);
      const steps = probe.calls.length;
      await okA.attacher.detach({ target: { kind: 'path', value: ns }, ifname: parseIfName('eth1') });
      rmSync(dir, { recursive: true, force: true });
      assert.ok(steps >= 4, `an attach with a new bridge, a gateway and IPv6 runs ${steps} commands`);
      const inProcess = probe.calls.filter((c) => c.startsWith('netlink ')).length;
      if (ipPath === 'netlink')
        assert.ok(
          inProcess >= 8,
          `the bridge, the veth and the addressing ran in-process (${inProcess} of ${steps} steps)`,
        );
      else assert.equal(inProcess, 0);
      const beforeHost = await dumpNs(hostNs);
      const beforeCont = await dumpNs(ns);
      for (const mode of ['before', 'after'] as const) {
        for (let k = 1; k <= steps; k++) {
          const d = mkdtempSync(join(tmpdir(), 'fleetnet-state-'));
          const f = new FailAtStep(new NsRunner(hostNs), k, mode);
          const { attacher, records } = makeAttacher(f.runner, { dir: d, hook: f.hook });
          const what = `step ${k} of ${steps} (${probe.calls[k - 1]!.slice(0, 80)}) failing ${mode} it ran`;
          await assert.rejects(attacher.attach(o), FleetnetError, `${what} fails the attach`);
          assert.equal(records.all().length, 0, `no record after ${what}`);
          assert.equal(await dumpNs(hostNs), beforeHost, `host namespace unchanged after ${what}`);
          assert.equal(await dumpNs(ns), beforeCont, `container namespace unchanged after ${what}`);
          rmSync(d, { recursive: true, force: true });
        }
      }
    });

    it('a name that is both a Docker container and a netns is ambiguous', async (t) => {
      // Named exactly as the Docker container; removed at once, so the next tests see one thing again.
      extraNs.push(`${P}-c1`);
      await addNs(`${P}-c1`);
      t.after(() => delNs(`${P}-c1`));
      const { attacher } = makeAttacher(new NsRunner(hostNs));
      await assert.rejects(
        attacher.attach(order(['br-t7', `${P}-c1`, '10.50.7.1/24'])),
        (e: unknown) => e instanceof FleetnetError && e.kind === 'ambiguous' && /docker:.*netns:/.test(e.message),
      );
    });

    it('0/0 makes an interface without an address; a stopped container is refused as not running', async () => {
      const { attacher } = makeAttacher(new NsRunner(hostNs));
      const r = await attacher.attach(order(['br-t9', `${P}-c2`, '0/0']));
      assert.deepEqual(r.record.addresses, []);
      const link = JSON.parse((await inContainer(c2, 'ip', '-json', 'addr', 'show', 'dev', 'eth1')).stdout) as {
        operstate: string;
        addr_info: { scope: string }[];
      }[];
      assert.deepEqual(
        link[0]!.addr_info.filter((a) => a.scope === 'global'),
        [],
      );
      await attacher.detach({ target: { kind: 'auto', value: `${P}-c2` }, ifname: parseIfName('eth1') });
      const stopped = await startContainer(`${P}-c3${path[0]}`, label);
      await sh.run('docker', ['stop', '-t', '0', stopped.id]);
      await assert.rejects(
        attacher.attach(order(['br-t9', `${P}-c3${path[0]}`, '10.50.9.3/24'])),
        (e: unknown) =>
          e instanceof FleetnetError && /is not running/.test(e.message) && /docker start/.test(e.hint ?? ''),
      );
    });

    it('missing targets and missing non-bridge host interfaces are refused, naming them', async () => {
      const rec = recorder();
      const { attacher } = makeAttacher(rec.runner, { hook: rec.hook });
      await assert.rejects(
        attacher.attach(order(['br-t8', `${P}-nosuch`, '10.50.8.1/24'])),
        (e: unknown) => e instanceof FleetnetError && e.kind === 'not_found' && e.message.includes(`${P}-nosuch`),
      );
      await assert.rejects(
        attacher.attach(order(['eht0', `${P}-c2`, '10.50.8.1/24'])),
        (e: unknown) => e instanceof FleetnetError && e.kind === 'not_found' && /eht0/.test(e.message),
      );
      assert.deepEqual(rec.writes(), [], 'nothing was changed');
    });
  });
