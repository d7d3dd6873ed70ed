// etcd for tests: members on loopback ports with their own data dirs under a temporary folder,
// killed and removed when the test file ends (also when it fails).
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExecRunner } from '../../common/runner.js';
import { startEtcdMember, waitEtcdHealthy, type EtcdMember } from '../../lab/etcd.js';

export interface TestEtcd {
  members: EtcdMember[];
  urls: string[];
  procs: (ChildProcess | undefined)[];
  /** Kills member i (-9), e.g. the leader. */
  kill(i: number): Promise<void>;
  /** Starts member i again on its data dir. */
  restart(i: number): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

const run = new ExecRunner();

function exited(p: ChildProcess | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (!p || p.exitCode !== null || p.signalCode !== null) return resolve();
    p.once('exit', () => resolve());
  });
}

export async function startTestEtcd(size = 1): Promise<TestEtcd> {
  const dir = mkdtempSync(join(tmpdir(), 'fleetnet-etcd-'));
  const token = `fleetnet-test-${process.pid}-${Date.now()}`;
  const members: EtcdMember[] = [];
  for (let i = 0; i < size; i++) {
    members.push({
      name: `m${i}`,
      clientUrl: `http://127.0.0.1:${await freePort()}`,
      peerUrl: `http://127.0.0.1:${await freePort()}`,
      dataDir: join(dir, `m${i}`),
    });
  }
  const procs: (ChildProcess | undefined)[] = members.map((m) => startEtcdMember(run, m, members, token));
  const e: TestEtcd = {
    members,
    procs,
    urls: members.map((m) => m.clientUrl),
    async kill(i) {
      const p = procs[i];
      p?.kill('SIGKILL');
      await exited(p);
      procs[i] = undefined;
    },
    async restart(i) {
      procs[i] = startEtcdMember(run, members[i]!, members, token);
      await waitEtcdHealthy(members[i]!.clientUrl);
    },
    async stop() {
      for (let i = 0; i < procs.length; i++) await e.kill(i);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await Promise.all(members.map((m, i) => waitEtcdHealthy(m.clientUrl, 30_000, () => procs[i]!.exitCode === null)));
  } catch (err) {
    await e.stop();
    throw err;
  }
  return e;
}

/** The member that is the leader now (its index), asked over the maintenance API. */
export async function leaderIndex(e: TestEtcd): Promise<number> {
  const { Etcd3 } = await import('etcd3');
  for (let i = 0; i < e.members.length; i++) {
    if (!e.procs[i]) continue;
    const c = new Etcd3({ hosts: e.members[i]!.clientUrl, dialTimeout: 2000 });
    try {
      const s = await c.maintenance.status();
      if (s.leader === s.header.member_id) return i;
    } catch {
      /* this one is down */
    } finally {
      c.close();
    }
  }
  throw new Error('no etcd member says it is the leader');
}
