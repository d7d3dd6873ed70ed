// The agent's netlink thread (agent/linux/netlink-thread.ts): a bridge attach's two batches carried out
// by the worker (the veth made into the container's namespace, plugged and up; the address added and
// read back), a failure answered with the in-process path's own message, and a worker that cannot
// serve (gone, or without its native modules) leaving the batches to the calling thread, and a thread
// closed with the agent: the batches under way answered, the process alive to its own exit.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { FleetnetError } from '../../common/errors.js';
import { parseIfAddr } from '../../common/ip.js';
import { ipExec } from '../../agent/linux/ip.js';
import { netlinkIp } from '../../agent/linux/ip-netlink.js';
import type { LinkOp } from '../../agent/linux/link-ops.js';
import { runBatch } from '../../agent/linux/netlink-batch.js';
import { netlinkWorkerFile, startNetlinkThread, type NetlinkThread } from '../../agent/linux/netlink-thread.js';
import { loadRtnl, type Rtnl } from '../../agent/linux/rtnetlink.js';
import { delNs, hostWithBridge, NsRunner, sh, uniquePrefix } from '../helpers/netns.js';

const P = uniquePrefix('nt');
const HOST = `${P}-h`;
const CTR = `${P}-c`;
const [hostPath, ctrPath] = [`/run/netns/${HOST}`, `/run/netns/${CTR}`];
let rt: Rtnl;
const threads: NetlinkThread[] = [];
const tmp = mkdtempSync(join(tmpdir(), 'fleetnet-nt-'));

before(async () => {
  const r = loadRtnl();
  await hostWithBridge(r, HOST, CTR);
  rt = r as Rtnl;
});
after(async () => {
  for (const t of threads) await t.close();
  await delNs(HOST);
  await delNs(CTR);
  rmSync(tmp, { recursive: true, force: true });
});

/** A thread on `file` whose fallback and outages are counted. */
function thread(file: string) {
  const seen = { inProcess: 0, down: [] as string[] };
  const t = startNetlinkThread(
    file,
    (netns, ops) => {
      seen.inProcess++;
      return runBatch(rt, netns, ops);
    },
    (why) => seen.down.push(why),
  );
  threads.push(t);
  return { t, seen };
}

test('a bridge attach made by the worker: veth into the container, port up, address read back', async () => {
  const file = netlinkWorkerFile();
  assert.ok(file, 'the worker file is found beside its module');
  const { t, seen } = thread(file);
  const ip = netlinkIp(rt, ipExec(new NsRunner(hostPath)), { hostNetns: hostPath, thread: t });
  await ip.host([
    { t: 'veth', name: 'fnt1', mtu: 1500, peer: { name: 'eth1', mtu: 1500, mac: '02:00:00:00:51:01', netns: ctrPath } },
    { t: 'set', name: 'fnt1', master: 'br0', up: true, addrGenMode: 'none' },
  ]);
  const rows = await ip.inNs(ctrPath, [
    { t: 'addr-add', cidr: parseIfAddr('10.52.0.2/24'), dev: 'eth1', nodad: false },
    { t: 'set', name: 'eth1', up: true, addrGenMode: 'none' },
    { t: 'addr-show', dev: 'eth1' },
  ]);
  const shown = rows[0]![0] as { ifname: string; address: string; addr_info: { local: string; prefixlen: number }[] };
  assert.equal(shown.ifname, 'eth1');
  assert.equal(shown.address, '02:00:00:00:51:01');
  assert.deepEqual(
    shown.addr_info.map((a) => `${a.local}/${a.prefixlen}`),
    ['10.52.0.2/24'],
  );
  const [host] = JSON.parse((await sh.run('ip', ['-n', HOST, '-json', 'link', 'show', 'fnt1'])).stdout) as {
    master?: string;
    flags: string[];
  }[];
  assert.equal(host!.master, 'br0', 'the host end is a port of br0');
  assert.ok(host!.flags.includes('UP'));
  assert.deepEqual([seen.inProcess, seen.down], [0, []], 'nothing ran on the calling thread');
});

test('a failed batch answers with the message the in-process path gives', async () => {
  const { t, seen } = thread(netlinkWorkerFile()!);
  const ops: LinkOp[] = [{ t: 'set', name: 'fnt-none', up: true }];
  const local = await runBatch(rt, hostPath, ops).then(
    () => assert.fail('no such link'),
    (e: unknown) => e as FleetnetError,
  );
  await assert.rejects(t.run(hostPath, ops), (e: unknown) => {
    assert.ok(e instanceof FleetnetError);
    assert.equal(e.kind, local.kind);
    assert.equal(e.message, local.message);
    assert.match(e.message, /^ip link set fnt-none up \(in .*\): RTNETLINK answers: No such device$/);
    return true;
  });
  assert.deepEqual([seen.inProcess, seen.down], [0, []]);
});

test('a worker that is gone or lacks its modules leaves the batches to the calling thread', async () => {
  const ops: LinkOp[] = [{ t: 'addr-show', dev: 'lo' }];
  const gone = join(tmp, 'gone.mjs');
  writeFileSync(gone, 'process.exit(3);\n');
  const a = thread(gone);
  await assert.rejects(a.t.run(hostPath, ops), /netlink thread: exited \(code 3\)/, 'the batch it held fails');
  const rows = await a.t.run(hostPath, ops);
  assert.equal((rows[0]![0] as { ifname: string }).ifname, 'lo');
  assert.deepEqual([a.seen.inProcess, a.seen.down], [1, ['exited (code 3)']]);

  const bare = join(tmp, 'bare.mjs');
  writeFileSync(
    bare,
    "import { parentPort } from 'node:worker_threads';\nparentPort.postMessage({ unavailable: 'no netlink here' });\n",
  );
  const b = thread(bare);
  b.t.start();
  await new Promise((r) => setTimeout(r, 0));
  const first = await b.t.run(hostPath, ops).then(
    () => 'answered',
    (e: unknown) => String(e),
  );
  // Posted before or after the worker said it cannot serve: failed with that reason, or run here.
  assert.ok(first === 'answered' || /netlink thread: no netlink here/.test(first), first);
  await b.t.run(hostPath, ops);
  assert.deepEqual(b.seen.down, ['no netlink here']);
  assert.ok(b.seen.inProcess >= 1);
});

test('closing the thread (the agent stopping) answers the batches under way and never aborts the process', () => {
  // Worker.terminate() under the netlink addon aborted the process ("terminate called after throwing an
  // instance of 'Napi::Error'", exit 134) in most runs: so this runs in a process of its own, 8 times.
  const script = join(tmp, 'close.mts');
  const THREAD_MODULE = join(process.cwd(), 'agent/linux/netlink-thread.ts');
  writeFileSync(
    script,
    `import { netlinkWorkerFile, startNetlinkThread } from ${JSON.stringify(THREAD_MODULE)};
    const ops = [{ t: 'addr-show', dev: 'lo' }];
    let answered = 0;
    for (let round = 0; round < 8; round++) {
      const t = startNetlinkThread(netlinkWorkerFile(), async () => { throw new Error('ran in process'); }, () => {});
      await t.run(undefined, ops);
      const under = round % 2 ? Array.from({ length: 20 }, () => t.run(undefined, ops).then(() => answered++)) : [];
      await t.close();
      await Promise.all(under);
    }
    console.log('answered ' + answered);`,
  );
  const r = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, `exit ${r.status} ${r.signal ?? ''}: ${r.stderr.slice(-400)}`);
  assert.equal(r.stdout.trim(), 'answered 80', 'every batch posted before close() was answered by the thread');
});
