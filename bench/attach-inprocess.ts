// The agent's in-process attach cost (Attacher.attach + detach of a veth on a Linux bridge, PID
// target, netlink path), for comparing two checkouts: run from each checkout's directory, inside
// a bench netns that holds bridge BR, against PIDs with their own network namespaces.
//   ip netns exec NS node --import tsx bench/attach-inprocess.ts BR PID,PID,... ROUNDS
import { performance } from 'node:perf_hooks';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Attacher } from '../agent/attach/attacher.js';
import { RecordStore } from '../agent/attach/records.js';
import { ContainerResolver } from '../agent/containers/resolve.js';
import { ipExec } from '../agent/linux/ip.js';
import { netlinkIp } from '../agent/linux/ip-netlink.js';
import { loadRtnl } from '../agent/linux/rtnetlink.js';
import { parseAttachArgs } from '../common/attach-args.js';
import { parseIfName } from '../common/ifname.js';
import { silentLogger } from '../common/logger.js';
import { ExecRunner } from '../common/runner.js';

const [br, pidList, roundsText] = process.argv.slice(2) as [string, string, string];
const runner = new ExecRunner();
const rt = loadRtnl();
if (typeof rt === 'string') throw new Error(rt);
const dir = mkdtempSync(join(tmpdir(), 'fn-ab-'));
const attacher = new Attacher({
  runner,
  ip: netlinkIp(rt, ipExec(runner)),
  records: new RecordStore(dir),
  log: silentLogger(),
  garp: false,
  resolver: new ContainerResolver({ runner, docker: () => undefined, netnsDir: '/run/netns' }),
});
const samples: number[] = [];
const pids = pidList.split(',');
for (let r = 0; r < Number(roundsText); r++) {
  for (const [i, pid] of pids.entries()) {
    const a = parseAttachArgs([br, `pid:${pid}`, `10.77.${r % 200}.${i + 10}/16`]);
    const order = {
      hostIf: parseIfName(br),
      target: a.target,
      ifname: parseIfName('eth1'),
      addresses: a.addresses,
      mac: a.mac,
      dryRun: false,
    };
    const t0 = performance.now();
    await attacher.attach(order);
    samples.push(performance.now() - t0);
    await attacher.detach({ target: a.target, ifname: parseIfName('eth1') });
  }
}
rmSync(dir, { recursive: true, force: true });
process.stdout.write(JSON.stringify(samples.slice(pids.length)) + '\n'); // the first round warms up
