// etcd members for the lab and the tests: Debian's `etcd` binary, each member with its own data
// directory and its own loopback (or lab-namespace) ports, started through the Runner and
// awaited until /health answers. Never a system service.
import type { ChildProcess } from 'node:child_process';
import type { Runner } from '../common/runner.js';
import { FleetnetError } from '../common/errors.js';

export interface EtcdMember {
  name: string;
  /** Where clients connect: http://ADDR:PORT. */
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
}

/** `name=peerUrl,…`: the members of a new cluster. */
export const initialCluster = (ms: readonly EtcdMember[]) => ms.map((m) => `${m.name}=${m.peerUrl}`).join(',');

export function etcdArgs(m: EtcdMember, cluster: readonly EtcdMember[], token: string): string[] {
  return [
    '--name',
    m.name,
    '--data-dir',
    m.dataDir,
    '--listen-client-urls',
    m.clientUrl,
    '--advertise-client-urls',
    m.clientUrl,
    '--listen-peer-urls',
    m.peerUrl,
    '--initial-advertise-peer-urls',
    m.peerUrl,
    '--initial-cluster',
    initialCluster(cluster),
    '--initial-cluster-token',
    token,
    '--initial-cluster-state',
    'new',
    // Small heartbeats: a killed leader is replaced in about a second on loopback.
    '--heartbeat-interval',
    '100',
    '--election-timeout',
    '1000',
    // A group of decisions is one transaction (controller/store/etcd): room for larger groups.
    '--max-txn-ops',
    '1024',
    '--log-level',
    'warn',
    '--logger',
    'zap',
  ];
}

/** Starts a member (prefix: argv before `etcd`, e.g. `ip netns exec NS`). */
export function startEtcdMember(
  run: Runner,
  m: EtcdMember,
  cluster: readonly EtcdMember[],
  token: string,
  prefix: string[] = [],
): ChildProcess {
  const argv = [...prefix, 'etcd', ...etcdArgs(m, cluster, token)];
  return run.start(argv[0]!, argv.slice(1), { stdio: 'ignore' });
}

/** Waits until a member says it is healthy (its cluster has a leader), or throws after timeoutMs. */
export async function waitEtcdHealthy(clientUrl: string, timeoutMs = 20_000, alive?: () => boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (alive && !alive()) throw new FleetnetError('failed', `etcd at ${clientUrl} exited while starting`);
    try {
      const r = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
      const body = (await r.json()) as { health?: string };
      if (body.health === 'true') return;
      last = JSON.stringify(body);
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new FleetnetError('failed', `etcd at ${clientUrl} did not become healthy (${last})`);
}
