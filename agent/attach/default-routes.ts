// Default routes an @gateway replaces: read before, restored on detach and on undo.
//
// Per container and family the records form a stack: each attach with an @gateway saved the default it replaced
// (`replacedDefaults`), which is the route of the attach below it, or what was there before fleetnet. Detaching
// the top puts its saved route back; detaching one below changes no route (a later attach replaced it) and hands
// its saved route to the record that had saved its route, so no saved route ever goes through a removed interface.
import { existsSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Runner } from '../../common/runner.js';
import { identityOf, type AttachmentRecord, type RecordStore, type RouteSnapshot } from './records.js';

type Family = 4 | 6;
const familyOf = (ip: string): Family => (ip.includes(':') ? 6 : 4);

export async function readDefaults(runner: Runner, netns: string, family: Family): Promise<RouteSnapshot[]> {
  const r = await runner.run('nsenter', [`--net=${netns}`, 'ip', `-${family}`, '-json', 'route', 'show', 'default']);
  const rows = JSON.parse(r.stdout || '[]') as { gateway?: string; dev?: string }[];
  return rows.map((x) => ({ family, ...(x.gateway ? { gateway: x.gateway } : {}), ...(x.dev ? { dev: x.dev } : {}) }));
}

export async function restoreDefaults(
  runner: Runner,
  log: Logger,
  netns: string,
  routes: RouteSnapshot[],
): Promise<void> {
  for (const r of routes) {
    const args = [
      'route',
      'replace',
      'default',
      ...(r.gateway ? ['via', r.gateway] : []),
      ...(r.dev ? ['dev', r.dev] : []),
    ];
    const res = await runner.run('nsenter', [`--net=${netns}`, 'ip', `-${r.family}`, ...args], { allowFail: true });
    if (res.code !== 0) log.warn({ netns, route: r, stderr: res.stderr.trim() }, 'could not restore a default route');
  }
}

/**
 * Read before r's interface goes: the saved routes to put back once it has gone, for each family whose default
 * goes through r's interface now (r is the top of the stack). None for a family a later attach replaced.
 */
export async function defaultsToRestore(runner: Runner, r: AttachmentRecord): Promise<RouteSnapshot[]> {
  const out: RouteSnapshot[] = [];
  for (const f of new Set(r.gateways.map(familyOf))) {
    const now = await readDefaults(runner, r.container.netns, f).catch(() => []);
    if (now.some((x) => x.dev === r.ifname)) out.push(...r.replacedDefaults.filter((x) => x.family === f));
  }
  return out;
}

/**
 * r leaves its container's stacks: a record that saved a route through r's interface (it was attached over r)
 * saves what r had saved for that family instead.
 */
export function handDownDefaults(records: RecordStore, r: AttachmentRecord): void {
  const mine = identityOf(r.container);
  for (const o of records.find((x) => x.key !== r.key && identityOf(x.container) === mine)) {
    const through = new Set(o.replacedDefaults.filter((s) => s.dev === r.ifname).map((s) => s.family));
    if (!through.size) continue;
    const kept = o.replacedDefaults.filter((s) => s.dev !== r.ifname);
    records.put({ ...o, replacedDefaults: [...kept, ...r.replacedDefaults.filter((s) => through.has(s.family))] });
  }
}

export interface DefaultDrift {
  record: AttachmentRecord;
  detail: string;
}

/**
 * Per live container and family with an @gateway, the default route should go through one of the gateways fleetnet
 * set there (the last one's, unless changed by hand): none of them, or no default at all, is drift, named after the
 * last attach. `live`: the record is up (Attacher.liveState); `dhcp`: it has a DHCP client, whose own routes may
 * differ (its container is not judged).
 */
export async function defaultRouteDrift(
  runner: Runner,
  records: AttachmentRecord[],
  is: { live(r: AttachmentRecord): boolean; dhcp(r: AttachmentRecord): boolean },
): Promise<DefaultDrift[]> {
  const dhcp = new Set(records.filter((r) => is.dhcp(r)).map((r) => identityOf(r.container)));
  const stacks = new Map<string, { f: Family; set: { r: AttachmentRecord; gw: string }[] }>();
  for (const r of records) {
    if (!is.live(r) || dhcp.has(identityOf(r.container)) || !existsSync(r.container.netns)) continue;
    for (const gw of r.gateways) {
      const k = `${identityOf(r.container)}\0${familyOf(gw)}`;
      const st = stacks.get(k) ?? { f: familyOf(gw), set: [] };
      st.set.push({ r, gw });
      stacks.set(k, st);
    }
  }
  const out: DefaultDrift[] = [];
  for (const { f, set } of stacks.values()) {
    const last = set.reduce((a, b) => (b.r.createdAtMs > a.r.createdAtMs ? b : a));
    const now = await readDefaults(runner, last.r.container.netns, f).catch(() => undefined);
    if (!now || now.some((x) => set.some((s) => x.gateway === s.gw && x.dev === s.r.ifname))) continue;
    const seen = now.map((x) => `via ${x.gateway ?? '-'} dev ${x.dev ?? '-'}`).join(', ') || 'none';
    const { r, gw } = last;
    out.push({
      record: r,
      detail:
        `its default route (@${gw}: via ${gw} dev ${r.ifname}) is missing; the container's default now: ${seen}; ` +
        `put it back with ip route replace default via ${gw} dev ${r.ifname} in the container, or detach and attach`,
    });
  }
  return out;
}
