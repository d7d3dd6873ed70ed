// `fleetnet check` on one host: records whose container is gone (leaks), marked objects no record
// holds (orphans), an address or MAC held by two records (duplicates), recorded interfaces that are
// not as made or a default route an @gateway set that is gone (drift) and failed re-applies. With fix,
// one full lifecycle pass repairs them, and the findings are read again so each says whether it was fixed.
import { existsSync } from 'node:fs';
import type { FleetnetError } from '../../common/errors.js';
import type { Attacher } from '../attach/attacher.js';
import { defaultRouteDrift } from '../attach/default-routes.js';
import type { AttachmentRecord, RecordStore } from '../attach/records.js';
import { findOrphans, removeOrphans, type OrphanDeps } from './orphans.js';
import type { Lifecycle } from './lifecycle.js';

export interface Finding {
  kind: 'leak' | 'orphan' | 'duplicate' | 'drift' | 'failed';
  subject: string;
  detail: string;
  fixed: boolean;
}

export interface CheckDeps {
  attacher: Attacher;
  records: RecordStore;
  lifecycle: Lifecycle;
  orphans: Omit<OrphanDeps, 'records' | 'log' | 'inProgress' | 'removeIfUnclaimed'> & Pick<OrphanDeps, 'log'>;
}

const subjectOf = (r: AttachmentRecord) => `${r.container.name}/${r.ifname}`;

async function findings(d: CheckDeps): Promise<Omit<Finding, 'fixed'>[]> {
  const out: Omit<Finding, 'fixed'>[] = [];
  const records = d.records.all();
  const broken = new Map<string, Promise<FleetnetError | undefined>>();
  for (const r of records) {
    const live = d.attacher.liveState(r);
    if (r.kind === 'ovs' && r.state !== 'failed') {
      if (!broken.has(r.hostIf)) broken.set(r.hostIf, d.orphans.ovs.datapathProblem(r.hostIf));
      const why = await broken.get(r.hostIf);
      if (why) {
        out.push({ kind: 'failed', subject: subjectOf(r), detail: `${why.message}; fix: ${why.hint ?? ''}` });
        continue;
      }
    }
    if (r.state === 'failed')
      out.push({
        kind: 'failed',
        subject: subjectOf(r),
        detail: `attempt ${r.attempts ?? 0} failed: ${r.lastError ?? ''}`,
      });
    else if (live === 'container-gone' && r.container.runtime !== 'docker' && !existsSync(r.container.netns)) {
      out.push({
        kind: 'leak',
        subject: subjectOf(r),
        detail: `its namespace ${r.container.netns} is gone; ${r.addresses.join(' ') || 'no address'} still recorded`,
      });
    } else if (live === 'missing' || live === 'container-gone') {
      out.push({
        kind: 'drift',
        subject: subjectOf(r),
        detail:
          live === 'missing'
            ? `host-side ${r.hostIfname} is missing`
            : 'the container is not running in the namespace it was made in',
      });
    }
  }
  const live = (r: AttachmentRecord) => d.attacher.liveState(r) === 'up';
  const dhcp = (r: AttachmentRecord) => !!d.attacher.lease(r.key);
  for (const x of await defaultRouteDrift(d.orphans.runner, records, { live, dhcp }))
    out.push({ kind: 'drift', subject: subjectOf(x.record), detail: x.detail });
  const seen = new Map<string, AttachmentRecord>();
  for (const r of records) {
    for (const v of [...r.addresses.map((a) => a.split('/')[0]!), ...(r.mac ? [r.mac] : [])]) {
      const other = seen.get(v);
      if (other && other.key !== r.key && other.hostIf === r.hostIf)
        out.push({
          kind: 'duplicate',
          subject: v,
          detail: `held by ${subjectOf(other)} and ${subjectOf(r)} on ${r.hostIf}`,
        });
      else seen.set(v, r);
    }
  }
  const od = orphanDeps(d);
  for (const o of await findOrphans(od)) out.push({ kind: 'orphan', subject: o.name, detail: o.detail });
  return out;
}

/** The orphan sweep's view of this agent: its records, and the host-side names attaches hold. */
function orphanDeps(d: CheckDeps): OrphanDeps {
  return {
    ...d.orphans,
    records: d.records,
    inProgress: () => d.attacher.inProgress(),
    removeIfUnclaimed: (name, remove) => d.attacher.removeIfUnclaimed(name, remove),
    owned: d.attacher.owned,
    ovsBridges: true,
  };
}

export async function checkHost(d: CheckDeps, fix: boolean): Promise<Finding[]> {
  const before = await findings(d);
  if (!fix || !before.length) return before.map((f) => ({ ...f, fixed: false }));
  // Failed ones are retried now, not at their backoff's end.
  for (const r of d.records.all())
    if (r.state === 'failed') d.attacher.note(r.key, { state: 'failed', nextRetryMs: 0 });
  await d.lifecycle.fullPass();
  await d.lifecycle.fullPass(); // the pass that may have been under way when check asked did not see the reset
  const od = orphanDeps(d);
  await removeOrphans(od, await findOrphans(od)); // --fix does not wait for the pass's grace
  const after = new Set((await findings(d)).map((f) => `${f.kind}\0${f.subject}`));
  return before.map((f) => ({ ...f, fixed: !after.has(`${f.kind}\0${f.subject}`) }));
}
