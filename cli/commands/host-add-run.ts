// The work behind `fleetnet host add --ssh/--inventory`: one host or many in parallel (bounded),
// a live progress view, and a summary. Exit 0 when every host joined, else 1.
import pino from 'pino';
import { invalid } from '../../common/errors.js';
import { parseHostId } from '../../common/pki/identity.js';
import { bootstrapHost, type BootstrapRequest, type BootstrapResult, type HostRegistry } from '../../controller/bootstrap/bootstrap.js';
import { loadInventory } from '../inventory/load.js';
import type { SshTarget } from '../../controller/bootstrap/ssh-session.js';
import { openTrust } from '../../controller/pki/controller-dir.js';
import { parseDuration } from '../../controller/pki/settings.js';
import { progressView } from '../output/progress.js';
import { table } from '../output/table.js';

type Opts = Record<string, string | boolean | undefined> & { controllerDir: string };
type TargetFn = (o: Opts, over?: { addr?: string; user?: string; port?: number; identity?: string }) => Promise<SshTarget>;

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

export async function runHostAdd(name: string | undefined, o: Opts, target: TargetFn, registry?: HostRegistry): Promise<number> {
  if (o.limit !== undefined && typeof o.inventory !== 'string') throw invalid('--limit selects hosts of an inventory', 'use it with --inventory FILE');
  if (o.listHosts && typeof o.inventory !== 'string') throw invalid('--list-hosts lists the hosts of an inventory', 'use it with --inventory FILE');
  const inventory = typeof o.inventory === 'string' ? loadInventory(o.inventory, typeof o.limit === 'string' ? { limit: o.limit } : {}) : undefined;
  if (inventory && o.listHosts) {
    // like `ansible --list-hosts`: what would be acted on, and nothing is
    const { printListHosts } = await import('../output/list-hosts.js');
    printListHosts(inventory, Boolean(o.json));
    return 0;
  }
  if (inventory && (name || o.ssh)) throw invalid('give either NAME --ssh USER@ADDR or --inventory FILE, not both', 'one host: fleetnet host add h3 --ssh root@ADDR; many: --inventory hosts.yaml');
  if (!inventory && (!name || !o.ssh)) throw invalid('host add over SSH needs NAME and --ssh USER@ADDR (or --inventory FILE)', 'e.g. fleetnet host add h3 --ssh root@10.99.0.13 --accept-new --advertise 10.99.0.1:7440');
  // what the agents are told; by default the controller address this CLI uses (--controller, env)
  const fallback = (o.advertise as string | undefined) ?? (o.controller as string | undefined) ?? process.env.FLEETNET_CONTROLLER;
  // --advertise wins; else a host's fleetnet_controller variable; else the controller this CLI uses
  const controllerOf = (h?: { controller?: string }) => (o.advertise as string | undefined) ?? h?.controller ?? fallback;
  const controller = fallback ?? inventory?.find((h) => h.controller)?.controller;
  if (!controller || inventory?.some((h) => !controllerOf(h))) throw invalid('no controller address for the agents to enroll with', 'pass --advertise ADDR:PORT (the address the hosts reach the controller at)');
  const parallel = Number(o.parallel ?? 8);
  if (!Number.isInteger(parallel) || parallel < 1) throw invalid(`--parallel ${String(o.parallel)} is not a positive number`, 'e.g. --parallel 8');
  const tokenTtlMs = typeof o.tokenTtl === 'string' ? parseDuration(o.tokenTtl) : undefined;

  const requests: BootstrapRequest[] = inventory
    ? await Promise.all(inventory.map(async (h) => ({
        hostId: h.name, controller: controllerOf(h)!, needOvs: h.ovs, ...(h.listen ? { listen: h.listen } : {}),
        ssh: await target(o, { addr: h.address, user: h.user, port: h.port, ...(h.keyFile ? { identity: h.keyFile } : {}) }),
      })))
    : [{ hostId: name as string, controller, needOvs: Boolean(o.ovs), ...(typeof o.listen === 'string' ? { listen: o.listen } : {}), ssh: await target(o) }];

  for (const r of requests) parseHostId(r.hostId); // bad input is exit 2 before anything starts
  const trust = await openTrust(o.controllerDir);
  const log = pino({ level: 'warn' }, pino.destination(2));
  const view = progressView(requests.map((r) => r.hostId));
  const results = await pool(requests, parallel, (r) => bootstrapHost(r, { trust, log, progress: (e) => view.on(e), ...(tokenTtlMs ? { tokenTtlMs } : {}), ...(registry ? { registry } : {}) }));
  view.end();

  const rows = results.map((r, i) => {
    const host = requests[i]!.hostId;
    if (r.status === 'fulfilled') return { host, ok: true as const, result: r.value };
    const e = r.reason as Error & { hint?: string };
    return { host, ok: false as const, error: e.message, ...(e.hint ? { hint: e.hint } : {}) };
  });
  if (o.json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
  else {
    const ok = (v: BootstrapResult) => `joined: agent at ${v.agentAddr}, Node.js ${v.runtime === 'shipped' ? 'shipped' : 'from the host'}, ${v.supervisor}${v.pinnedNow ? `; pinned host key ${v.fingerprint}` : ''}`;
    process.stdout.write(table(['HOST', 'RESULT'], rows.map((r) => [r.host, r.ok ? ok(r.result) : `FAILED: ${r.error}${r.hint ? ` (${r.hint})` : ''}`])) + '\n');
    const n = rows.filter((r) => r.ok).length;
    process.stdout.write(`${n} of ${rows.length} host(s) joined\n`);
  }
  return rows.every((r) => r.ok) ? 0 : 1;
}
