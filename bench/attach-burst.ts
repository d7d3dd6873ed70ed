// The agent's Attacher alone (no gRPC, no client process): N attaches of network-namespace targets
// onto one Linux bridge from C concurrent callers, in-process netlink, announcements on (GARP=0 turns
// them off): attaches/s, the process's CPU per attach (user, system), and the wall time per link
// operation kind (through the renderer's OpHook): with C = 1 where an attach spends its time, with
// more callers its operations' latency (waiting for the others included). The parent makes a bench
// namespace and the targets, runs itself inside (`ip netns exec`) and removes everything after,
// also on failure.
//   node --import tsx bench/attach-burst.ts [N=1000] [C=50]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Attacher } from '../agent/attach/attacher.js';
import { RecordStore } from '../agent/attach/records.js';
import { ContainerResolver } from '../agent/containers/resolve.js';
import { ipExec } from '../agent/linux/ip.js';
import { netlinkIp, type OpHook } from '../agent/linux/ip-netlink.js';
import type { LinkOp } from '../agent/linux/link-ops.js';
import { loadRtnl } from '../agent/linux/rtnetlink.js';
import { parseAttachArgs } from '../common/attach-args.js';
import { parseIfName } from '../common/ifname.js';
import { silentLogger } from '../common/logger.js';
import { ExecRunner } from '../common/runner.js';

const runner = new ExecRunner();

/** The parent: the namespaces, this script inside the bench one, and everything removed after. */
async function parent(n: number, c: number): Promise<void> {
  const prefix = `fnbu${Math.random().toString(36).slice(2, 7)}`;
  const names = [`${prefix}-h`, ...Array.from({ length: n + 1 }, (_, i) => `${prefix}-t${i}`)];
  const batch = (verb: string) => names.map((x) => `netns ${verb} ${x}`).join('\n') + '\n';
  try {
    await runner.run('ip', ['-batch', '-'], { input: batch('add'), timeoutMs: 600_000 });
    const argv = ['netns', 'exec', names[0]!, process.execPath, '--import', 'tsx', 'bench/attach-burst.ts'];
    const code = await new Promise<number>((resolve) => {
      const p = runner.start('ip', [...argv, '--inner', `${prefix}-t`, String(n), String(c)], { stdio: 'inherit' });
      p.on('exit', (x) => resolve(x ?? 1));
    });
    process.exitCode = code;
  } finally {
    await runner.run('ip', ['-force', '-batch', '-'], { input: batch('del'), allowFail: true, timeoutMs: 600_000 });
  }
}

async function inner(prefix: string, N: number, C: number): Promise<void> {
  const rt = loadRtnl();
  if (typeof rt === 'string') throw new Error(rt);
  /** Wall time per operation kind (the text of each op names it: `link add`, `link set … address`, …). */
  const opMs = new Map<string, { n: number; ms: number }>();
  const started = new WeakMap<LinkOp, number>();
  const kindOf = (op: LinkOp) =>
    op.t === 'set'
      ? `set ${Object.keys(op)
          .filter((k) => k !== 't' && k !== 'name')
          .join('+')}`
      : op.t;
  const hook: OpHook = {
    before: (op) => void started.set(op, performance.now()),
    after: (op) => {
      const e = opMs.get(kindOf(op)) ?? { n: 0, ms: 0 };
      e.n++;
      e.ms += performance.now() - (started.get(op) ?? 0);
      opMs.set(kindOf(op), e);
    },
  };
  const dir = mkdtempSync(join(tmpdir(), 'fn-burst-'));
  const attacher = new Attacher({
    runner,
    ip: netlinkIp(rt, ipExec(runner), { hook }),
    records: new RecordStore(dir),
    log: silentLogger(),
    garp: process.env.GARP !== '0',
    resolver: new ContainerResolver({ runner, docker: () => undefined, netnsDir: '/run/netns' }),
  });
  const order = (i: number) => {
    const a = parseAttachArgs([
      'br-burst',
      `netns:${prefix}${i}`,
      `10.${200 + Math.floor(i / 60000)}.${Math.floor(i / 250) % 240}.${(i % 250) + 2}/8`,
    ]);
    return {
      hostIf: parseIfName('br-burst'),
      target: a.target,
      ifname: parseIfName('eth1'),
      addresses: a.addresses,
      mac: a.mac,
      dryRun: false,
    };
  };
  await attacher.attach(order(N)); // the bridge made, code warm
  opMs.clear();
  let next = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: C }, async () => {
      while (next < N) await attacher.attach(order(next++));
    }),
  );
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await attacher.announcementsSent();
  rmSync(dir, { recursive: true, force: true });
  for (const [k, v] of [...opMs].sort((a, b) => b[1].ms - a[1].ms))
    process.stdout.write(
      `  ${k}: ${(v.ms / N).toFixed(3)} ms per attach (${v.n} ops, ${(v.ms / v.n).toFixed(3)} ms each)\n`,
    );
  const perAttach = (us: number) => (us / 1000 / N).toFixed(2);
  process.stdout.write(
    `${N} attaches, ${C} callers: ${((N * 1000) / wall).toFixed(0)}/s; ` +
      `CPU per attach ${perAttach(cpu.user + cpu.system)} ms ` +
      `(user ${perAttach(cpu.user)}, system ${perAttach(cpu.system)})\n`,
  );
}

const args = process.argv.slice(2);
if (args[0] === '--inner') await inner(args[1]!, Number(args[2]), Number(args[3]));
else await parent(Number(args[0] ?? 1000), Number(args[1] ?? 50));
