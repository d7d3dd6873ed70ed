// `fleetnet ls --json` of many attachments from etcd (issue 13; goal: 100k in < 500 ms). A 3-member
// etcd on loopback is filled with N attachments through the etcd store (whole records with their
// address and MAC holders, as the controller writes them), then one controller process serves them
// and converges them to its in-memory agents (an attach and a record rewrite each: the fill leaves
// updatedMs 0). Timed: that convergence (until a second store's mirror has seen every record
// rewritten), the CLI's `ls --json` end to end (a new process: spawn → exit, output to a file) once
// while the controller converges and RUNS times once the fleet is at rest (converged, then no store
// change for 2 s), and the store's own part (the mirror's JSON, in process). Not at rest within
// --timeout-s: the runs are timed anyway and flagged (`atRest: false`, a warning on stderr).
// Also reported: the controller's CPU time per ls and at rest without requests (its periodic passes).
//   node --import tsx bench/etcd-ls.ts [--n 100000] [--runs 5] [--timeout-s 300] [--cpu-prof DIR]
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ExecRunner } from '../common/runner.js';
import { addHost } from '../controller/fleet/hosts.js';
import { createNetwork } from '../controller/fleet/networks.js';
import type { AttachmentRecord } from '../controller/store/types.js';
import { ensureBuilt } from '../test/helpers/build.js';
import { openEtcdStore, useEtcdStores } from '../test/helpers/controller-store.js';
import { startTestEtcd } from '../test/helpers/etcd.js';
import { killHa, startHaController } from '../test/helpers/ha-fleet.js';
import type { EtcdStore } from '../controller/store/etcd/etcd-store.js';
import { ATTS, nameOf } from '../controller/store/etcd/keys.js';

const { values: opt } = parseArgs({
  options: {
    n: { type: 'string', default: '100000' },
    runs: { type: 'string', default: '5' },
    'timeout-s': { type: 'string', default: '300' },
    /** A folder for the controller's CPU profile (node --cpu-prof), written when it stops. */
    'cpu-prof': { type: 'string' },
  },
});
const N = Number(opt.n);
const RUNS = Number(opt.runs);
const TIMEOUT_MS = Number(opt['timeout-s']) * 1000;
const HOSTS = 50;
const prefix = `/fleetnet-bench-ls-${process.pid}/`;
const load = () =>
  loadavg()
    .map((x) => x.toFixed(2))
    .join(' / ');
const loadBefore = load();
const sh = new ExecRunner();
const bin = await ensureBuilt(sh);
const etcd = await startTestEtcd(3);
useEtcdStores(etcd.urls);
const dir = mkdtempSync(join(tmpdir(), 'fleetnet-bench-ls-'));

function record(i: number): AttachmentRecord {
  const host = `h${(i % HOSTS) + 1}`;
  const addr = `10.${64 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`;
  const mac = `02:00:${[i >> 24, i >> 16, i >> 8, i].map((b) => (b & 255).toString(16).padStart(2, '0')).join(':')}`;
  return {
    id: `fa-bench${String(i).padStart(12, '0')}`,
    host,
    net: 'bench',
    target: { kind: 'netns', value: `c${i}` },
    ifname: 'eth1',
    hostIf: 'br-bench',
    kind: 'bridge',
    mac,
    macScheme: 'auto',
    macSource: 'generated',
    addresses: [{ cidr: `${addr}/10` }],
    other: [],
    vlan: '',
    mtu: 1500,
    desired: 'present',
    state: 'up',
    error: '',
    generation: 1,
    hostIfname: `fnb${i}`,
    reportedAddresses: [],
    requestFp: '',
    createdMs: 0,
    updatedMs: 0,
  };
}

const fill = await (async () => {
  const s = await openEtcdStore(prefix);
  const f0 = performance.now();
  try {
    await s.transact((tx) => {
      for (let h = 1; h <= HOSTS; h++) addHost(tx, { name: `h${h}`, agentAddr: `10.99.1.${h}:7441` }, 0);
      createNetwork(tx, { name: 'bench', subnets: ['10.64.0.0/10'], kind: 'bridge', bridge: 'br-bench' }, 0);
    });
    // Many decisions at once: the store groups them into transactions under etcd's op limit.
    for (let i = 0; i < N; i += 2000) {
      await Promise.all(
        Array.from({ length: Math.min(2000, N - i) }, (_, k) =>
          s.transact((tx) => {
            const a = record(i + k);
            tx.putAttachment(a);
            tx.reserveAddress('bench', a.addresses[0]!.cidr.split('/')[0]!, a.id);
            tx.reserveMac('fleet', a.mac, a.id);
          }),
        ),
      );
    }
  } finally {
    s.close();
  }
  return { fillSeconds: (performance.now() - f0) / 1000 };
})();

/**
 * Watches a second store's mirror: `converged` resolves (seconds since `t0`) when every record the
 * fill left unconverged was rewritten by the controller, undefined after timeoutMs.
 */
async function watchConvergence(view: EtcdStore, t0: number, timeoutMs: number) {
  const pending = new Set(
    await view.read((tx) =>
      tx
        .listAttachments()
        .filter((a) => a.updatedMs === 0)
        .map((a) => a.id),
    ),
  );
  let done: (s: number | undefined) => void = () => undefined;
  const converged = new Promise<number | undefined>((r) => (done = r));
  const timer = setTimeout(() => done(undefined), timeoutMs);
  view.mirror.onChange((key, v) => {
    if (!pending.size || !key.startsWith(ATTS) || v === undefined) return;
    if ((JSON.parse(v) as AttachmentRecord).updatedMs > 0 && pending.delete(nameOf(key, ATTS)) && !pending.size) {
      clearTimeout(timer);
      done((performance.now() - t0) / 1000);
    }
  });
  return { converged, pending };
}

/** At rest: no store change for quietMs (the mirror's watch revision stays), or false at `deadline`. */
async function quiet(view: EtcdStore, deadline: number, quietMs = 2000): Promise<boolean> {
  let rev = view.mirror.watchRev;
  let since = performance.now();
  while (performance.now() - since < quietMs) {
    if (performance.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 250));
    if (view.mirror.watchRev !== rev) [rev, since] = [view.mirror.watchRev, performance.now()];
  }
  return true;
}

const view = await openEtcdStore(prefix);
const t0 = performance.now();
const conv = await watchConvergence(view, t0, TIMEOUT_MS);
const profArgs = opt['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', opt['cpu-prof']] : [];
const ctl = { c: await startHaController(etcd.urls, prefix, profArgs), ...fill };
/** The controller's CPU time so far (user + system, /proc: clock ticks of 10 ms). */
const ctlCpuMs = () => {
  const f = readFileSync(`/proc/${ctl.c.proc.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
};

try {
  const out = join(dir, 'ls.json');
  const cpuMs: number[] = [];
  const lsOnce = async () => {
    const fd = openSync(out, 'w');
    const c0 = ctlCpuMs();
    const t0 = performance.now();
    try {
      const p = sh.start(process.execPath, [bin, '--controller', ctl.c.listen, 'ls', '--json'], { stdio: fd });
      const code = await new Promise<number | null>((resolve) => p.once('exit', resolve));
      if (code !== 0) throw new Error(`fleetnet ls --json exited ${code}`);
    } finally {
      closeSync(fd);
    }
    cpuMs.push(ctlCpuMs() - c0);
    return performance.now() - t0;
  };
  // Once while the controller converges its hosts (every attachment rewritten), then at rest.
  const duringConvergeMs = await lsOnce();
  const convergeSeconds = await conv.converged;
  const atRest = convergeSeconds !== undefined && (await quiet(view, t0 + TIMEOUT_MS));
  const restSeconds = (performance.now() - t0) / 1000;
  if (!atRest)
    process.stderr.write(
      `bench/etcd-ls: NOT at rest after ${restSeconds.toFixed(0)} s (${conv.pending.size} records not converged): ` +
        'the runs below are timed while the controller is busy\n',
    );
  // What the controller spends at rest with no request (its periodic passes), per second.
  const i0 = [ctlCpuMs(), performance.now()] as const;
  await new Promise((r) => setTimeout(r, 5000));
  const idleCpuMsPerS = ((ctlCpuMs() - i0[0]) / (performance.now() - i0[1])) * 1000;
  cpuMs.length = 0;
  const times: number[] = [];
  for (let r = 0; r < RUNS; r++) times.push(await lsOnce());
  const bytes = statSync(out).size;
  const m0 = performance.now();
  const json = await view.attachmentsJson();
  const mirrorMs = performance.now() - m0;
  view.close();
  const sorted = [...times].sort((a, b) => a - b);
  process.stdout.write(
    JSON.stringify(
      {
        attachments: N,
        hosts: HOSTS,
        fillSeconds: +ctl.fillSeconds.toFixed(1),
        cliDuringConvergeMs: Math.round(duringConvergeMs),
        convergeSeconds: convergeSeconds === undefined ? null : +convergeSeconds.toFixed(1),
        settleSeconds: +restSeconds.toFixed(1),
        atRest,
        cliRunsMs: times.map((t) => Math.round(t)),
        cliFirstMs: Math.round(times[0]!),
        cliMedianMs: Math.round(sorted[Math.floor(sorted.length / 2)]!),
        controllerCpuMsPerLs: cpuMs,
        controllerIdleCpuMsPerS: Math.round(idleCpuMsPerS),
        goalMs: 500,
        outputBytes: bytes,
        mirrorJsonMsInProcess: +mirrorMs.toFixed(1),
        mirrorJsonBytes: json.length,
        loadBefore,
        loadAfter: load(),
      },
      null,
      1,
    ) + '\n',
  );
} finally {
  await killHa(ctl.c, 'SIGTERM');
  await etcd.stop();
  rmSync(dir, { recursive: true, force: true });
}
