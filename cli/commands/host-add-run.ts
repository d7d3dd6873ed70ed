// The work behind `fleetnet host add --ssh/--inventory` and `fleetnet host upgrade`: one host or
// many in parallel (bounded), a live progress view, and a summary. Exit 0 when every host is done,
// else 1. SSH runs here, with the operator's keys; the controller is asked for what needs the CA.
import pino from 'pino';
import { invalid } from '../../common/errors.js';
import { parseDuration } from '../../common/flag-values.js';
import { parseHostId } from '../../common/pki/identity.js';
import { readAgentConfig } from '../bootstrap/agent-config.js';
import { bootstrapHost, type BootstrapRequest, type BootstrapResult, type FleetAuthority } from '../bootstrap/bootstrap.js';
import type { SshTarget } from '../bootstrap/ssh-session.js';
import { UPGRADE_STEPS } from '../bootstrap/steps.js';
import { upgradeHost, type UpgradeRequest, type UpgradeResult } from '../bootstrap/upgrade.js';
import { loadInventory, type ResolvedHost } from '../inventory/load.js';
import { progressView } from '../output/progress.js';
import { table } from '../output/table.js';

export type Opts = Record<string, string | boolean | undefined>;
export type TargetFn = (o: Opts, over?: { addr?: string; user?: string; port?: number; identity?: string }) => Promise<SshTarget>;

/** Runs fn over items with at most n at once. */
async function pool<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const out: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T).then((value) => ({ status: 'fulfilled', value }) as const, (reason: unknown) => ({ status: 'rejected', reason }) as const);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

/** The hosts to act on: NAME --ssh, or an inventory (--limit); --list-hosts prints them and returns undefined. */
async function selectHosts(verb: string, name: string | undefined, o: Opts): Promise<ResolvedHost[] | 'listed' | undefined> {
  if (o.limit !== undefined && typeof o.inventory !== 'string') throw invalid('--limit selects hosts of an inventory', 'use it with --inventory FILE');
  if (o.listHosts && typeof o.inventory !== 'string') throw invalid('--list-hosts lists the hosts of an inventory', 'use it with --inventory FILE');
  const inventory = typeof o.inventory === 'string' ? loadInventory(o.inventory, typeof o.limit === 'string' ? { limit: o.limit } : {}) : undefined;
  if (inventory && o.listHosts) {
    // like `ansible --list-hosts`: what would be acted on, and nothing is
    const { printListHosts } = await import('../output/list-hosts.js');
    printListHosts(inventory, Boolean(o.json));
    return 'listed';
  }
  if (inventory && (name || o.ssh)) throw invalid(`give either NAME --ssh USER@ADDR or --inventory FILE, not both`, `one host: fleetnet host ${verb} h3 --ssh root@ADDR; many: --inventory hosts.yaml`);
  if (!inventory && (!name || !o.ssh)) {
    throw invalid(`host ${verb} over SSH needs NAME and --ssh USER@ADDR (or --inventory FILE)`, `e.g. fleetnet host ${verb} h3 --ssh root@10.99.0.13`);
  }
  return inventory;
}

function parallelOf(o: Opts): number {
  const parallel = Number(o.parallel ?? 8);
  if (!Number.isInteger(parallel) || parallel < 1) throw invalid(`--parallel ${String(o.parallel)} is not a positive number`, 'e.g. --parallel 8');
  return parallel;
}

/** Runs the work per host with a progress view; prints a table (or JSON) of the results. */
async function runAll<Q extends { hostId: string }, R>(requests: Q[], o: Opts, steps: Parameters<typeof progressView>[2], work: (r: Q, progress: (e: Parameters<ReturnType<typeof progressView>['on']>[0]) => void) => Promise<R>, say: (r: R) => string, verb: string): Promise<number> {
  for (const r of requests) parseHostId(r.hostId); // bad input is exit 2 before anything starts
  const view = progressView(requests.map((r) => r.hostId), process.stderr, steps);
  const results = await pool(requests, parallelOf(o), (r) => work(r, (e) => view.on(e)));
  view.end();
  const rows = results.map((r, i) => {
    const host = requests[i]!.hostId;
    if (r.status === 'fulfilled') return { host, ok: true as const, result: r.value };
    const e = r.reason as Error & { hint?: string };
    return { host, ok: false as const, error: e.message, ...(e.hint ? { hint: e.hint } : {}) };
  });
  if (o.json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
  else {
    process.stdout.write(table(['HOST', 'RESULT'], rows.map((r) => [r.host, r.ok ? say(r.result) : `FAILED: ${r.error}${r.hint ? ` (${r.hint})` : ''}`])) + '\n');
    process.stdout.write(`${rows.filter((r) => r.ok).length} of ${rows.length} host(s) ${verb}\n`);
  }
  return rows.every((r) => r.ok) ? 0 : 1;
}

/** What the bootstrap sends, per host, with every input checked (exit 2) before any connection. */
export async function hostAddRequests(name: string | undefined, o: Opts, target: TargetFn, controllerAddr: () => string): Promise<BootstrapRequest[] | undefined> {
  const inventory = await selectHosts('add', name, o);
  if (inventory === 'listed') return undefined;
  if (typeof o.tokenTtl === 'string') parseDuration(o.tokenTtl, '--token-ttl');
  // --advertise wins; else a host's fleetnet_controller variable; else the controller this CLI uses
  const controllerOf = (h?: { controller?: string }) => (o.advertise as string | undefined) ?? h?.controller ?? controllerAddr();
  const common = typeof o.agentConfig === 'string' ? await readAgentConfig(o.agentConfig) : undefined;
  if (!inventory) {
    return [{ hostId: name as string, controller: controllerOf(), needOvs: Boolean(o.ovs), ...(typeof o.listen === 'string' ? { listen: o.listen } : {}),
      ...(common !== undefined ? { agentConfig: common } : {}), ssh: await target(o) }];
  }
  return Promise.all(inventory.map(async (h) => {
    const own = h.agentConfig ? await readAgentConfig(h.agentConfig, `fleetnet_agent_config of ${h.name}:`) : common;
    return {
      hostId: h.name, controller: controllerOf(h), needOvs: h.ovs, ...(h.listen ? { listen: h.listen } : {}), ...(own !== undefined ? { agentConfig: own } : {}),
      ssh: await target(o, { addr: h.address, user: h.user, port: h.port, ...(h.keyFile ? { identity: h.keyFile } : {}) }),
    };
  }));
}

export async function runHostAdd(requests: BootstrapRequest[], o: Opts, authority: FleetAuthority): Promise<number> {
  const tokenTtlMs = typeof o.tokenTtl === 'string' ? parseDuration(o.tokenTtl, '--token-ttl') : undefined;
  const log = pino({ level: 'warn' }, pino.destination(2));
  const ok = (v: BootstrapResult) => `joined: agent at ${v.agentAddr}, Node.js ${v.runtime === 'shipped' ? 'shipped' : 'from the host'}, ${v.supervisor}${v.pinnedNow ? `; pinned host key ${v.fingerprint}` : ''}`;
  return runAll(requests, o, undefined, (r, progress) => bootstrapHost(r, { authority, log, progress, ...(tokenTtlMs ? { tokenTtlMs } : {}) }), ok, 'joined');
}

export async function upgradeRequests(name: string | undefined, o: Opts, target: TargetFn): Promise<UpgradeRequest[] | undefined> {
  const inventory = await selectHosts('upgrade', name, o);
  if (inventory === 'listed') return undefined;
  if (!inventory) return [{ hostId: name as string, needOvs: Boolean(o.ovs), ssh: await target(o) }];
  return Promise.all(inventory.map(async (h) => ({
    hostId: h.name, needOvs: h.ovs, ssh: await target(o, { addr: h.address, user: h.user, port: h.port, ...(h.keyFile ? { identity: h.keyFile } : {}) }),
  })));
}

export async function runHostUpgrade(requests: UpgradeRequest[], o: Opts, authority: Pick<FleetAuthority, 'waitEnrolled'>): Promise<number> {
  const ok = (v: UpgradeResult) => `upgraded: agent at ${v.agentAddr}, Node.js ${v.runtime === 'shipped' ? 'shipped' : 'from the host'}, ${v.supervisor}`;
  return runAll(requests, o, UPGRADE_STEPS, (r, progress) => upgradeHost(r, { authority, progress }), ok, 'upgraded');
}
