// `fleetnet check` through the controller: the store's attachments against every agent's live view.
// Leaks: allocations whose interface no agent holds (container gone, never made); orphans: interfaces
// agents hold for attachments the store no longer has, plus each agent's own orphans (marked veths,
// OVS ports); duplicates: an address or MAC held twice in the fleet; drift: an interface whose live
// settings differ from the store's. --fix: agents fix their own, the dispatcher converges each host,
// and the findings are read again.
import type { Logger } from 'pino';
import { describeError } from '../../common/errors.js';
import { noSuchHost } from './hosts.js';
import type { Finding, Interface } from '../../proto/gen/fleetnet/v1/agent.js';
import type { Dispatcher } from '../dispatch/dispatcher.js';
import { agentMatches } from '../dispatch/to-agent.js';
import type { Store } from '../store/store.js';
import { ATTACHMENT_ID_PREFIX } from './attachments.js';

const TIMEOUT_MS = 15_000;

async function hostFindings(store: Store, dispatcher: Dispatcher, host: string, fix: boolean): Promise<Finding[]> {
  const out: Finding[] = [];
  const link = await dispatcher.linkOf(host);
  if (!link) return [{ kind: 'failed', host, subject: host, detail: 'no such host', fixed: false }];
  let live: Interface[];
  try {
    live = (await link.list(TIMEOUT_MS)).interfaces;
    if (link.check) out.push(...(await link.check({ fix }, 60_000)).findings);
  } catch (err) {
    return [{ kind: 'failed', host, subject: host, detail: `agent unreachable: ${describeError(err)}`, fixed: false }];
  }
  const atts = await store.read((tx) => tx.listAttachments({ host }));
  const byId = new Map(live.map((i) => [i.attachmentId, i]));
  for (const a of atts) {
    if (a.desired !== 'present' || a.reserveOnly) continue; // a reservation has no interface of fleetnet's
    const i = byId.get(a.id);
    const subject = `${a.container?.name ?? a.target.value}/${a.ifname}`;
    if (a.labelRefused) {
      out.push({ kind: 'failed', host, subject, detail: a.error, fixed: false });
      continue;
    }
    const holds = `${a.addresses.map((x) => x.cidr).join(' ') || 'no address'} ${a.mac}`;
    if (!i && a.state === 'failed') {
      // the agent could not make it (no such container yet, a refusal): recorded, retried, holding its addresses
      const drop = `fleetnet detach --host ${host} ${a.container?.name || a.target.value}`;
      out.push({ kind: 'failed', host, subject, detail: `${a.error}; holds ${holds}; drop it: ${drop}`, fixed: false });
    } else if (!i) {
      if (a.state !== 'stopped')
        out.push({
          kind: 'leak',
          host,
          subject,
          detail: `${holds} allocated (${a.state}), no interface on ${host}`,
          fixed: false,
        });
    } else if (!agentMatches(a, i)) {
      out.push({
        kind: 'drift',
        host,
        subject,
        detail: `live ${i.mac} ${i.addresses.join(' ')}; wanted ${a.mac} ${a.addresses.map((x) => x.cidr).join(' ')}`,
        fixed: false,
      });
    } else if (i.state === 'missing' || i.state === 'container-gone') {
      out.push({ kind: 'drift', host, subject, detail: `interface ${i.state} on ${host}`, fixed: false });
    }
  }
  const ids = new Set(atts.map((a) => a.id));
  for (const i of live) {
    if (i.attachmentId.startsWith(ATTACHMENT_ID_PREFIX) && !ids.has(i.attachmentId)) {
      out.push({
        kind: 'orphan',
        host,
        subject: `${i.container?.name ?? ''}/${i.ifname}`,
        detail: `attachment ${i.attachmentId} is not in the controller's store`,
        fixed: false,
      });
    }
  }
  return out;
}

/** Addresses or MACs held by more than one attachment of the store, or live on more than one interface. */
async function duplicates(store: Store): Promise<Finding[]> {
  const atts = await store.read((tx) => tx.listAttachments({}));
  const seen = new Map<string, string>();
  const out: Finding[] = [];
  for (const a of atts) {
    if (a.labelRefused) continue; // holds nothing
    for (const v of [...a.addresses.map((x) => `${a.net} ${x.cidr.split('/')[0]}`), `mac ${a.mac}`]) {
      const other = seen.get(v);
      if (other && other !== a.id)
        out.push({ kind: 'duplicate', host: a.host, subject: v, detail: `held by ${other} and ${a.id}`, fixed: false });
      else seen.set(v, a.id);
    }
  }
  return out;
}

export async function fleetCheck(
  o: { store: Store; dispatcher: Dispatcher; log: Logger },
  host: string,
  fix: boolean,
): Promise<Finding[]> {
  const hosts = await o.store.read((tx) => {
    if (host && !tx.getHost(host)) throw noSuchHost(host);
    return host ? [host] : tx.listHosts().map((h) => h.name);
  });
  const run = async (withFix: boolean) => [
    ...(await Promise.all(hosts.map((h) => hostFindings(o.store, o.dispatcher, h, withFix)))).flat(),
    ...(await duplicates(o.store)).filter((d) => !host || d.host === host),
  ];
  const before = await run(fix);
  if (!fix) return before;
  await Promise.all(hosts.map((h) => o.dispatcher.passNow(h)));
  const after = await run(false);
  const key = (f: Finding) => `${f.kind}\0${f.host}\0${f.subject}`;
  const still = new Set(after.map(key));
  return before.map((f) => ({ ...f, fixed: f.fixed || !still.has(key(f)) }));
}
