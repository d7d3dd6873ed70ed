// `fleetnet ls --json` of many attachments from etcd (issue 13; goal: 100k in < 500 ms). A 3-member
// etcd on loopback is filled with N attachments through the etcd store (whole records with their
// address and MAC holders, as the controller writes them), then one controller process serves them:
// the CLI's `ls --json` is timed end to end (a new process: spawn → exit, output to a file), once
// while the controller converges its in-memory agents (it rewrites every record then), and RUNS
// times once the fleet is at rest, beside the store's own part (the mirror's JSON, in process).
//   node --import tsx bench/etcd-ls.ts [--n 100000] [--runs 5]
import { closeSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
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

const { values: opt } = parseArgs({
  options: { n: { type: 'string', default: '100000' }, runs: { type: 'string', default: '5' } },
});
const N = Number(opt.n);
const RUNS = Number(opt.runs);
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

const ctl = await (async () => {
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
  const fillSeconds = (performance.now() - f0) / 1000;
  const c = await startHaController(etcd.urls, prefix);
  return { c, fillSeconds };
})();

/**
 * Until the fleet is at rest: the controller, started on records its in-memory agents have never
 * seen, converges every host first (an attach and a record rewrite per attachment, which sets its
 * updatedMs: the fill leaves it 0). At rest: every record converged, then nothing changed for quietMs.
 * Gives up after timeoutMs (100k converge slowly: the runs are then timed with the controller busy).
 */
async function settled(view: EtcdStore, quietMs = 2000, timeoutMs = 300_000): Promise<{ s: number; ok: boolean }> {
  const t0 = performance.now();
  const late = () => performance.now() - t0 > timeoutMs;
  // (false while the view's own watch is being re-established: 100k events at once can drop it)
  const converged = () => view.read((tx) => tx.listAttachments().every((a) => a.updatedMs > 0)).catch(() => false);
  while (!(await converged())) {
    if (late()) return { s: (performance.now() - t0) / 1000, ok: false };
    await new Promise((r) => setTimeout(r, 1000));
  }
  let rev = view.mirror.watchRev;
  let since = performance.now();
  while (performance.now() - since < quietMs && !late()) {
    await new Promise((r) => setTimeout(r, 250));
    if (view.mirror.watchRev !== rev) [rev, since] = [view.mirror.watchRev, performance.now()];
  }
  return { s: (since - t0) / 1000, ok: !late() };
}

try {
  const out = join(dir, 'ls.json');
  const lsOnce = async () => {
    const fd = openSync(out, 'w');
    const t0 = performance.now();
    try {
      const p = sh.start(process.execPath, [bin, '--controller', ctl.c.listen, 'ls', '--json'], { stdio: fd });
      const code = await new Promise<number | null>((resolve) => p.once('exit', resolve));
      if (code !== 0) throw new Error(`fleetnet ls --json exited ${code}`);
    } finally {
      closeSync(fd);
    }
    return performance.now() - t0;
  };
  const view = await openEtcdStore(prefix);
  // Once while the controller converges its hosts (every attachment rewritten), then at rest.
  const duringConvergeMs = await lsOnce();
  const settle = await settled(view);
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
        settleSeconds: +settle.s.toFixed(1),
        atRest: settle.ok,
        cliRunsMs: times.map((t) => Math.round(t)),
        cliFirstMs: Math.round(times[0]!),
        cliMedianMs: Math.round(sorted[Math.floor(sorted.length / 2)]!),
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
