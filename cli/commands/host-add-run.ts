// The work behind `fleetnet host add --ssh/--inventory` and `fleetnet host upgrade`: one host or
// many in parallel (bounded), a live progress view, and a summary. Exit 0 when every host is done,
// else 1. SSH runs here, with the operator's keys; the controller is asked for what needs the CA.
import pino from 'pino';
import { invalid } from '../../common/errors.js';
import { parseDuration } from '../../common/flag-values.js';
import { agentAddrFlag, parseAgentAddr } from '../../common/host-spec.js';
import { tryParseAddr } from '../../common/ip.js';
import { parseControllerList } from '../../common/rpc/controller-addresses.js';
import { parseHostId } from '../../common/pki/identity.js';
import { readAgentConfig } from '../bootstrap/agent-config.js';
import {
  bootstrapHost,
  defaultAgentAddr,
  type BootstrapRequest,
  type BootstrapResult,
} from '../bootstrap/bootstrap.js';
import type { FleetAuthority } from '../bootstrap/bootstrap.js';
import type { SshTarget } from '../bootstrap/ssh-session.js';
import { UPGRADE_STEPS, type ProgressEvent, type Step } from '../bootstrap/steps.js';
import { upgradeHost, type UpgradeRequest, type UpgradeResult } from '../bootstrap/upgrade.js';
import { inventoryFormat, loadInventory, type ResolvedHost } from '../inventory/load.js';
import { assignment } from '../inventory/model.js';
import { progressView } from '../output/progress.js';
import { table } from '../output/table.js';

export type Opts = Record<string, string | boolean | undefined>;
export interface TargetOverride {
  addr?: string;
  user?: string;
  port?: number;
  identity?: string;
  /** Where the identity comes from, for errors. */
  identityFrom?: string;
}
export type TargetFn = (o: Opts, over?: TargetOverride) => Promise<SshTarget>;

/** Runs fn over items with at most n at once. */
async function pool<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const out: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T).then(
        (value) => ({ status: 'fulfilled', value }) as const,
        (reason: unknown) => ({ status: 'rejected', reason }) as const,
      );
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}

/** The SSH target of an inventory host. */
const inventoryTarget = (h: ResolvedHost, file: string): TargetOverride => ({
  addr: h.address,
  user: h.user,
  port: h.port,
  ...(h.keyFile
    ? { identity: h.keyFile, identityFrom: `${file}: ansible_ssh_private_key_file of host ${h.name}` }
    : {}),
});

/** The hosts to act on: NAME --ssh (undefined), an inventory (--limit), or 'listed' (--list-hosts printed them). */
type Selection = ResolvedHost[] | 'listed' | undefined;

async function selectHosts(verb: string, name: string | undefined, o: Opts): Promise<Selection> {
  const inv = typeof o.inventory === 'string' ? o.inventory : undefined;
  const withInventory = 'use it with --inventory FILE';
  if (o.limit !== undefined && !inv) throw invalid('--limit selects hosts of an inventory', withInventory);
  if (o.listHosts && !inv) throw invalid('--list-hosts lists the hosts of an inventory', withInventory);
  const inventory = inv ? loadInventory(inv, typeof o.limit === 'string' ? { limit: o.limit } : {}) : undefined;
  if (inventory && o.listHosts) {
    // like `ansible --list-hosts`: what would be acted on, and nothing is
    const { printListHosts } = await import('../output/list-hosts.js');
    printListHosts(inventory, Boolean(o.json));
    return 'listed';
  }
  if (inventory && (name || o.ssh)) {
    throw invalid(
      'give either NAME --ssh USER@ADDR or --inventory FILE, not both',
      `one host: fleetnet host ${verb} h3 --ssh root@ADDR; many: --inventory hosts.yaml`,
    );
  }
  if (!inventory && (!name || !o.ssh)) {
    throw invalid(
      `host ${verb} over SSH needs NAME and --ssh USER@ADDR (or --inventory FILE)`,
      `e.g. fleetnet host ${verb} h3 --ssh root@10.99.0.13`,
    );
  }
  return inventory;
}

function parallelOf(o: Opts): number {
  const parallel = Number(o.parallel ?? 8);
  if (!Number.isInteger(parallel) || parallel < 1) {
    throw invalid(`--parallel ${String(o.parallel)} is not a positive number`, 'e.g. --parallel 8');
  }
  return parallel;
}

interface Job<Q, R> {
  steps?: readonly Step[];
  work(r: Q, progress: (e: ProgressEvent) => void): Promise<R>;
  /** One host's line in the summary. */
  say(r: R): string;
  /** The summary's verb: "2 of 3 host(s) joined". */
  verb: string;
}

/** Runs the work per host with a progress view; prints a table (or JSON) of the results. */
async function runAll<Q extends { hostId: string }, R>(requests: Q[], o: Opts, job: Job<Q, R>): Promise<number> {
  for (const r of requests) parseHostId(r.hostId); // bad input is exit 2 before anything starts
  const view = progressView(
    requests.map((r) => r.hostId),
    process.stderr,
    job.steps,
  );
  const results = await pool(requests, parallelOf(o), (r) => job.work(r, (e) => view.on(e)));
  view.end();
  const rows = results.map((r, i) => {
    const host = requests[i]!.hostId;
    if (r.status === 'fulfilled') return { host, ok: true as const, result: r.value };
    const e = r.reason as Error & { hint?: string };
    return { host, ok: false as const, error: e.message, ...(e.hint ? { hint: e.hint } : {}) };
  });
  if (o.json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
  else {
    const result = (r: (typeof rows)[number]) =>
      r.ok ? job.say(r.result) : `FAILED: ${r.error}${r.hint ? ` (${r.hint})` : ''}`;
    process.stdout.write(
      table(
        ['HOST', 'RESULT'],
        rows.map((r) => [r.host, result(r)]),
      ) + '\n',
    );
    process.stdout.write(`${rows.filter((r) => r.ok).length} of ${rows.length} host(s) ${job.verb}\n`);
  }
  return rows.every((r) => r.ok) ? 0 : 1;
}

const nodeOf = (runtime: 'host' | 'shipped') => `Node.js ${runtime === 'shipped' ? 'shipped' : 'from the host'}`;

/**
 * What the controller registers at the end of a bootstrap, checked now as it will check it: the agent's address
 * (its --listen, else the SSH address, port 7441) is an IP address, and the underlay (the SSH address when it is
 * IPv4, else the agent's: MACs carry it) is IPv4. A host reached by its DNS name needs its address given.
 */
function registration(hostId: string, ssh: SshTarget, listen: string | undefined, fix: string) {
  if (listen === undefined && !tryParseAddr(ssh.addr))
    throw invalid(
      `host ${hostId}: it is reached over SSH as ${ssh.addr}, a name, and its agent is registered by IP address`,
      fix,
    );
  const agent = parseAgentAddr(listen ?? defaultAgentAddr(ssh.addr));
  const underlay = tryParseAddr(ssh.addr)?.family === 4 ? ssh.addr : agent.ip;
  if (tryParseAddr(underlay)?.family !== 4)
    throw invalid(
      `host ${hostId}: neither its SSH address nor its agent's (${agent.addr}) is IPv4, and its ` +
        'underlay address (the one its MACs carry) must be',
      fix,
    );
  return { listen: agent.addr, underlay };
}

/** What the bootstrap sends, per host, with every input checked (exit 2) before any connection. */
export async function hostAddRequests(
  name: string | undefined,
  o: Opts,
  target: TargetFn,
  controllerAddr: () => string,
): Promise<BootstrapRequest[] | undefined> {
  const inventory = await selectHosts('add', name, o);
  if (inventory === 'listed') return undefined;
  if (typeof o.tokenTtl === 'string') parseDuration(o.tokenTtl, '--token-ttl');
  // --advertise wins; else a host's fleetnet_controller variable; else the controller this CLI uses
  const advertise = typeof o.advertise === 'string' ? o.advertise : undefined;
  if (advertise) parseControllerList(advertise, '--advertise');
  const listenFlag = typeof o.listen === 'string' ? agentAddrFlag('--listen', o.listen) : undefined;
  if (listenFlag && inventory)
    throw invalid("--listen is one agent's address", 'with --inventory give each host its fleetnet_listen');
  const controllerOf = (h?: { controller?: string }) => advertise ?? h?.controller ?? controllerAddr();
  const common = typeof o.agentConfig === 'string' ? await readAgentConfig(o.agentConfig) : undefined;
  const config = (agentConfig: string | undefined) => (agentConfig !== undefined ? { agentConfig } : {});
  if (!inventory) {
    const ssh = await target(o);
    const hostId = name as string;
    const fix = "give the agent's IPv4 address: --listen IP:7441";
    const reg = registration(hostId, ssh, listenFlag, fix);
    return [{ hostId, controller: controllerOf(), needOvs: Boolean(o.ovs), ssh, ...reg, ...config(common) }];
  }
  const file = o.inventory as string;
  const fix = (h: string) =>
    `give its agent's IPv4 address in ${file}: ${assignment(inventoryFormat(file), 'fleetnet_listen', 'IP:7441')} ` +
    `for ${h} (or its ansible_host as an IPv4 address)`;
  return Promise.all(
    inventory.map(async (h) => {
      const own = h.agentConfig ? await readAgentConfig(h.agentConfig, `fleetnet_agent_config of ${h.name}:`) : common;
      const ssh = await target(o, inventoryTarget(h, file));
      const reg = registration(h.name, ssh, h.listen, fix(h.name));
      return { hostId: h.name, controller: controllerOf(h), needOvs: h.ovs, ssh, ...reg, ...config(own) };
    }),
  );
}

/**
 * Ctrl-C while hosts are added: each bootstrap stops after the SSH work in hand and undoes what it made (its
 * progress line says what), then the exit code is 130. A second Ctrl-C exits at once, undoing nothing more.
 */
async function interruptible(fn: (signal: AbortSignal) => Promise<number>): Promise<number> {
  const ac = new AbortController();
  const onInt = () => {
    if (ac.signal.aborted) process.exit(130);
    process.stderr.write(
      '\nfleetnet: interrupted: undoing what host add made (join token, certificates, agent, registration) ' +
        'after the step in hand; Ctrl-C again exits at once, leaving the rest\n',
    );
    ac.abort();
  };
  process.on('SIGINT', onInt);
  try {
    const code = await fn(ac.signal);
    return ac.signal.aborted ? 130 : code;
  } finally {
    process.off('SIGINT', onInt);
  }
}

export async function runHostAdd(requests: BootstrapRequest[], o: Opts, authority: FleetAuthority): Promise<number> {
  const tokenTtlMs = typeof o.tokenTtl === 'string' ? parseDuration(o.tokenTtl, '--token-ttl') : undefined;
  const log = pino({ level: 'warn' }, pino.destination(2));
  const deps = { authority, log, ...(tokenTtlMs ? { tokenTtlMs } : {}) };
  return interruptible((signal) =>
    runAll(requests, o, {
      work: (r, progress) => bootstrapHost(r, { ...deps, progress, signal }),
      say: (v: BootstrapResult) =>
        `joined: agent at ${v.agentAddr}, ${nodeOf(v.runtime)}, ${v.supervisor}` +
        (v.pinnedNow ? `; pinned host key ${v.fingerprint}` : ''),
      verb: 'joined',
    }),
  );
}

export async function upgradeRequests(
  name: string | undefined,
  o: Opts,
  target: TargetFn,
): Promise<UpgradeRequest[] | undefined> {
  const inventory = await selectHosts('upgrade', name, o);
  if (inventory === 'listed') return undefined;
  if (!inventory) return [{ hostId: name as string, needOvs: Boolean(o.ovs), ssh: await target(o) }];
  return Promise.all(
    inventory.map(async (h) => ({
      hostId: h.name,
      needOvs: h.ovs,
      ssh: await target(o, inventoryTarget(h, o.inventory as string)),
    })),
  );
}

export async function runHostUpgrade(requests: UpgradeRequest[], o: Opts, authority: FleetAuthority): Promise<number> {
  return runAll(requests, o, {
    steps: UPGRADE_STEPS,
    work: (r, progress) => upgradeHost(r, { authority, progress }),
    say: (v: UpgradeResult) => `upgraded: agent at ${v.agentAddr}, ${nodeOf(v.runtime)}, ${v.supervisor}`,
    verb: 'upgraded',
  });
}
