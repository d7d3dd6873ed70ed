// A re-asked attach whose veth pair appears between its claim of the free host-side name and its own make (made
// by something else meanwhile, as the `ip -batch` child of an agent killed with kill -9 would, outliving it). The
// make answers "File exists"; the attach proves the pair its own (fleetnet's name for this container and
// interface), removes it, makes it again and converges. Both of the agent's ways of doing its `ip` work; real
// kernel, in test namespaces. Fails on the code before the reclaim with the CI run's error.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { Attacher } from '../../agent/attach/attacher.js';
import { RecordStore } from '../../agent/attach/records.js';
import { ContainerResolver } from '../../agent/containers/resolve.js';
import type { LinkOp } from '../../agent/linux/link-ops.js';
import { ipExec } from '../../agent/linux/ip.js';
import { netlinkIp } from '../../agent/linux/ip-netlink.js';
import { loadRtnl } from '../../agent/linux/rtnetlink.js';
import { hostIfName } from '../../common/ifname.js';
import { silentLogger } from '../../common/logger.js';
import type { Runner, RunOptions, RunResult } from '../../common/runner.js';
import { attachOrder } from '../helpers/attach-order.js';
import { dumpNs, mountNsSysfs, NsRunner } from '../helpers/netns.js';
import { netns, scope, sh, tempDir, uniq } from './parity-env.js';

/** What the killed agent's batch leaves when it finishes: the pair, its container end named eth1, not plugged. */
function lateLeftover(host: string, cont: string, name: string): void {
  execFileSync('ip', ['-n', host, 'link', 'add', name, 'type', 'veth', 'peer', 'name', 'eth1', 'netns', cont]);
}

/** Runs `before` once, just before the first `ip -batch` that makes a veth (the exec path's make). */
class BeforeVethRunner implements Runner {
  private done = false;
  constructor(
    private readonly inner: Runner,
    private readonly before: () => void,
  ) {}
  run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult> {
    if (!this.done && args.includes('-batch') && / type veth /.test(opts?.input ?? '')) {
      this.done = true;
      this.before();
    }
    return this.inner.run(cmd, args, opts);
  }
  start: Runner['start'] = (cmd, args, opts) => this.inner.start(cmd, args, opts);
}

for (const path of ['exec', 'netlink'] as const)
  test(`${path}: a pair of this attachment that appears between its claim and its make is remade`, async (tc) => {
    const t = scope(tc);
    const p = uniq();
    const host = await netns(t, `${p}-h`);
    const cont = await netns(t, `${p}-c`);
    const name = hostIfName('netns', cont, 'eth1');
    const hostNs = `/run/netns/${host}`;
    const sysfs = await mountNsSysfs(hostNs);
    t.after(() => sysfs.release());
    let appeared = 0;
    const appear = () => {
      appeared++;
      lateLeftover(host, cont, name);
    };
    const runner = path === 'exec' ? new BeforeVethRunner(new NsRunner(hostNs), appear) : new NsRunner(hostNs);
    let ip = ipExec(runner);
    if (path === 'netlink') {
      const rt = loadRtnl();
      if (typeof rt === 'string') throw new Error(`in-process netlink must load here: ${rt}`);
      let done = false;
      const before = (op: LinkOp) => {
        if (op.t === 'veth' && !done) {
          done = true;
          appear();
        }
      };
      ip = netlinkIp(rt, ip, { hostNetns: hostNs, hook: { before } });
    }
    const attacher = new Attacher({
      runner,
      ip,
      records: new RecordStore(tempDir(t, 'fnp-reclaim-')),
      log: silentLogger(),
      sysClassNet: sysfs.classNet,
      garp: false,
      ownerMark: 'fleetnet:atest000000',
      resolver: new ContainerResolver({ runner, docker: () => undefined, netnsDir: '/run/netns' }),
      capabilities: async () => [],
    });
    const before = await dumpNs(`/run/netns/${cont}`);
    const o = attachOrder([`br${p.slice(-6)}`, `netns:${cont}`, '10.63.0.2/24']);
    const res = await attacher.attach(o);
    assert.equal(appeared, 1, 'the pair appeared after the claim');
    assert.equal(res.changed, true);
    assert.equal(res.record.hostIfname, name);
    const inCont = (await sh('ip', ['-n', cont, '-o', 'addr', 'show', 'dev', 'eth1'])).stdout;
    assert.match(inCont, /inet 10\.63\.0\.2\/24/);
    const master = (await sh('ip', ['-n', host, '-o', 'link', 'show', 'master', o.hostIf])).stdout;
    assert.match(master, new RegExp(`: ${name}@`), 'the remade veth is the bridge port');
    await attacher.detach({ target: o.target, ifname: o.ifname });
    assert.equal(await dumpNs(`/run/netns/${cont}`), before, 'detach leaves the container as it was');
    assert.equal((await sh('ip', ['-n', host, 'link', 'show', name], true)).code !== 0, true, `${name} is gone`);
  });
