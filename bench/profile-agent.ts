// Where an agent attach spends its time: the agent's own Attacher, in process, with every Runner
// call, the container lookup and the record write timed. Run by bench/run.ts inside the bench netns
// (`ip netns exec`), the way the agent runs. Right after each in-process attach (and its detach) the
// same target is attached through the bench agent's gRPC API, so the difference is measured at the
// same moment. Prints one JSON object on stdout.
//   node --import tsx bench/profile-agent.ts --bridge BR --ifname IF --net K --state-dir D \
//     --socket S --grpc-bridge BR2 --grpc-ifname IF2 --targets docker:a,pid:123,...
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import Docker from 'dockerode';
import { z } from 'zod';
import { Attacher } from '../agent/attach/attacher.js';
import { RecordStore, type AttachmentRecord } from '../agent/attach/records.js';
import { ContainerResolver } from '../agent/containers/resolve.js';
import { ipExec, type IpExec } from '../agent/linux/ip.js';
import { netlinkIp } from '../agent/linux/ip-netlink.js';
import { loadRtnl } from '../agent/linux/rtnetlink.js';
import { connectAgent } from '../cli/client/agent.js';
import { attachOrderFromProto, detachOrderFromProto } from '../agent/service/convert.js';
import type { TargetRef } from '../common/attach-args.js';
import { silentLogger } from '../common/logger.js';
import { ExecRunner, type RunOptions, type RunResult, type Runner, type StartOptions } from '../common/runner.js';
import { AttachRequest, DetachRequest } from '../proto/gen/fleetnet/v1/agent.js';
import { benchAddr } from './lib/measure.js';

/** Phases whose name starts with '~' are shares of other phases, not added to the total. */
export const SPAWN_SHARE = '~ share of the two execs: spawn() blocking the event loop';

export interface Phases {
  [phase: string]: number;
}

/** Times every call; `sync` is what spawning costs the event loop before the call returns its promise. */
class TimingRunner implements Runner {
  phases: Phases = {};
  constructor(private readonly inner: Runner) {}
  add(phase: string, ms: number): void {
    this.phases[phase] = (this.phases[phase] ?? 0) + ms;
  }
  run(cmd: string, args: readonly string[], opts?: RunOptions): Promise<RunResult> {
    const label = labelOf(cmd, args);
    const t0 = performance.now();
    const p = this.inner.run(cmd, args, opts);
    const t1 = performance.now();
    if (label.background) {
      this.add(`${label.name} (spawn, on the reply's path)`, t1 - t0);
      return p;
    }
    this.add(`${SPAWN_SHARE}`, t1 - t0);
    return p.finally(() => this.add(label.name, performance.now() - t0));
  }
  start(cmd: string, args: readonly string[], opts?: StartOptions) {
    return this.inner.start(cmd, args, opts);
  }
}

function labelOf(cmd: string, args: readonly string[]): { name: string; background: boolean } {
  if (cmd === 'nsenter' && args.includes('arping')) return { name: 'arping (gratuitous ARP)', background: true };
  if (cmd === 'ip' && args.includes('-batch'))
    return { name: 'exec ip -json -batch (bench netns: veth, bridge port, up)', background: false };
  if (cmd === 'nsenter' && args.includes('-batch'))
    return { name: 'exec nsenter ip -json -batch (container: address, up, read-back dump)', background: false };
  return { name: `exec ${cmd} ${args.slice(0, 3).join(' ')}`, background: false };
}

/** Times the in-process batches (a batch that falls back to exec is timed by the runner instead). */
function timedIp(ip: IpExec & { execs: number }, r: TimingRunner): IpExec {
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const execs = ip.execs;
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      if (ip.execs === execs) r.add(name, performance.now() - t0);
    }
  };
  return {
    host: (lines) => timed('netlink, host namespace (veth, bridge port, up)', () => ip.host(lines)),
    inNs: (ns, lines, o) =>
      timed('netlink, container namespace (setns + socket, address, up, read-back)', () => ip.inNs(ns, lines, o)),
    describe: (ns, lines, f) => ip.describe(ns, lines, f),
  };
}

class TimedResolver extends ContainerResolver {
  constructor(
    deps: ConstructorParameters<typeof ContainerResolver>[0],
    private readonly r: TimingRunner,
  ) {
    super(deps);
  }
  override async resolve(t: TargetRef) {
    const t0 = performance.now();
    try {
      return await super.resolve(t);
    } finally {
      this.r.add(
        t.kind === 'docker' ? 'container lookup (Docker API inspect, /proc reads)' : 'container lookup (/proc reads)',
        performance.now() - t0,
      );
    }
  }
}

class TimedRecords extends RecordStore {
  constructor(
    dir: string,
    private readonly r: TimingRunner,
  ) {
    super(dir);
  }
  override put(rec: AttachmentRecord): void {
    const t0 = performance.now();
    super.put(rec);
    this.r.add('record file write (write + rename)', performance.now() - t0);
  }
}

const Args = z.object({
  bridge: z.string().min(1),
  ifname: z.string().min(1),
  net: z.coerce.number().int().min(1).max(254),
  'state-dir': z.string().min(1),
  targets: z.string().min(1),
  warmup: z.coerce.number().int().min(0).default(3),
  /** The bench agent's socket: a gRPC Attach of the same target runs right after each in-process one. */
  socket: z.string().min(1),
  'grpc-bridge': z.string().min(1),
  'grpc-ifname': z.string().min(1),
});

async function main(): Promise<void> {
  const a = Args.parse(
    parseArgs({ options: Object.fromEntries(Object.keys(Args.shape).map((k) => [k, { type: 'string' as const }])) })
      .values,
  );
  const timing = new TimingRunner(new ExecRunner());
  let docker: Docker | undefined;
  const resolver = new TimedResolver(
    {
      runner: timing,
      netnsDir: '/run/netns',
      docker: () => (docker ??= new Docker({ socketPath: '/var/run/docker.sock' })),
    },
    timing,
  );
  const records = new TimedRecords(a['state-dir'], timing);
  // The agent's own choice of path (in-process netlink when it loads), timed per namespace.
  const rt = loadRtnl();
  const exec = ipExec(timing);
  const ip = typeof rt === 'string' ? exec : timedIp(netlinkIp(rt, exec), timing);
  const attacher = new Attacher({ runner: timing, ip, records, resolver, log: silentLogger() });
  const targets = a.targets.split(',').map((t) => {
    const [kind, value] = t.split(':') as [string, string];
    return { kind, value };
  });
  const conn = connectAgent(a.socket);
  const perKind: Record<string, { seen: number; totals: number[]; phases: Phases[]; grpc: number[] }> = {};
  for (const [i, target] of targets.entries()) {
    const order = attachOrderFromProto(
      AttachRequest.fromPartial({
        hostIf: a.bridge,
        target,
        ifname: a.ifname,
        addresses: [{ static: { cidr: `${benchAddr(a.net, i)}/16`, gateway: '' } }],
      }),
    );
    timing.phases = {};
    const t0 = performance.now();
    await attacher.attach(order);
    const total = performance.now() - t0;
    const phases = { ...timing.phases }; // before the detach adds its own calls
    await attacher.detach(detachOrderFromProto(DetachRequest.fromPartial({ target, ifname: a.ifname })));
    const req = AttachRequest.fromPartial({
      hostIf: a['grpc-bridge'],
      target,
      ifname: a['grpc-ifname'],
      addresses: [{ static: { cidr: `${benchAddr(a.net + 1, i)}/16`, gateway: '' } }],
    });
    const g0 = performance.now();
    await conn.call(conn.client.attach, req);
    const grpc = performance.now() - g0;
    await conn.call(conn.client.detach, DetachRequest.fromPartial({ target, ifname: a['grpc-ifname'] }));
    const k = (perKind[target.kind] ??= { seen: 0, totals: [], phases: [], grpc: [] });
    if (++k.seen <= a.warmup) continue; // the first attaches of each kind warm up (JIT, Docker client)
    k.totals.push(total);
    k.phases.push(phases);
    k.grpc.push(grpc);
  }
  conn.close();
  process.stdout.write(JSON.stringify(perKind) + '\n');
}

await main();
