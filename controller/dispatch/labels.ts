// Container labels as fleet desired state: every labelled container an agent reports
// (`fleetnet.net=NET`, optionally `fleetnet.ip=CIDR…`, per interface as `fleetnet.IF.net`) becomes a
// fleet attachment, allocated and recorded exactly as `fleetnet attach --net` would be, then carried
// to the agent by the same reconcile. What cannot be made (malformed label, unknown network, pool
// exhausted, the container also seen by another host) allocates nothing: it is recorded as a
// refused attachment (state failed, no address, no MAC) so that `fleetnet ls` shows the container
// with the error, and it goes once the container stops or its labels are fixed.
import type { Logger } from 'pino';
import { parseAddressToken, type TargetRef } from '../../common/attach/index.js';
import { describeError } from '../../common/errors.js';
import type { LabelledContainer } from '../../proto/gen/fleetnet/v1/agent.js';
import { attachmentIdOf, decideAttach } from '../fleet/attachments.js';
import type { Store, Tx } from '../store/store.js';
import type { AttachmentRecord } from '../store/types.js';

/** The pseudo interface of a refusal that concerns the container's labels as a whole (malformed ones). */
export const LABELS_IFNAME = 'labels';

export interface LabelsOutcome {
  /** Attachment ids made from labels in this pass. */
  created: string[];
  /** `container/ifname: error` of every label refused in this pass. */
  refused: string[];
  /** Something was written (the host's attachments are to be read again). */
  changed: boolean;
}

interface Refusal {
  id: string;
  target: TargetRef;
  container: { id: string; name: string };
  ifname: string;
  net: string;
  error: string;
}

/** Is this a refused label attachment (nothing allocated, only shown)? */
export function isLabelRefusal(a: AttachmentRecord): boolean {
  return a.labelRefused === true;
}

function refusalRecord(tx: Tx, host: string, r: Refusal, nowMs: number): AttachmentRecord {
  return {
    id: r.id,
    host,
    net: r.net,
    target: r.target,
    ifname: r.ifname,
    hostIf: '',
    kind: 'bridge',
    mac: '',
    macScheme: 'auto',
    macSource: '',
    addresses: [],
    other: [],
    vlan: '',
    mtu: 0,
    desired: 'present',
    state: 'failed',
    error: r.error,
    generation: tx.getHost(host)?.generation ?? 0,
    container: { ...r.container, runtime: 'docker', pid: 0 },
    hostIfname: '',
    reportedAddresses: [],
    requestFp: '',
    createdMs: nowMs,
    updatedMs: nowMs,
    fromLabels: true,
    labelRefused: true,
  };
}

/** Another host already holds an attachment for this Docker container and interface (one daemon, several hosts). */
function heldElsewhere(tx: Tx, host: string, containerId: string, ifname: string): AttachmentRecord | undefined {
  return tx
    .listAttachments({})
    .find(
      (a) =>
        a.host !== host &&
        !isLabelRefusal(a) &&
        a.ifname === ifname &&
        ((a.target.kind === 'docker' && a.target.value === containerId) || a.container?.id === containerId),
    );
}

/**
 * Acts on the labelled containers of one host (from its agent's List): makes the attachments their
 * labels ask for that the store does not have yet, and keeps the refusals current. `known`: the
 * host's attachments as the caller just read them; what they show done already costs no transaction
 * (each transaction checks again what it changes).
 */
export async function applyLabelled(
  o: { store: Store; log: Logger; now: () => number },
  host: string,
  labelled: LabelledContainer[],
  known: readonly AttachmentRecord[],
): Promise<LabelsOutcome> {
  const out: LabelsOutcome = { created: [], refused: [], changed: false };
  const knownById = new Map(known.map((a) => [a.id, a]));
  const refusals: Refusal[] = [];
  for (const c of labelled) {
    const target: TargetRef = { kind: 'docker', value: c.id };
    const who = { id: c.id, name: c.name };
    if (c.errors.length) {
      const id = attachmentIdOf(host, target, LABELS_IFNAME);
      refusals.push({ id, target, container: who, ifname: LABELS_IFNAME, net: '', error: c.errors.join('; ') });
    }
    for (const s of c.attach) {
      const id = attachmentIdOf(host, target, s.ifname);
      const had = knownById.get(id);
      if (had && !isLabelRefusal(had)) continue; // made already
      try {
        const made = await o.store.transact((tx) => {
          const have = tx.getAttachment(id);
          if (have && !isLabelRefusal(have)) return false;
          const other = heldElsewhere(tx, host, c.id, s.ifname);
          if (other) {
            throw new Error(
              `${c.name} ${s.ifname} is already attached on host ${other.host} ` +
                '(several hosts share this Docker daemon); label the container fleetnet.host=NAME ' +
                'so that one host owns it',
            );
          }
          if (have) tx.deleteAttachment(id);
          decideAttach(
            tx,
            {
              host,
              net: s.network,
              target,
              ifname: s.ifname,
              addresses: s.addresses.map(parseAddressToken),
              mac: { kind: 'auto' },
              fromLabels: true,
            },
            o.now(),
          );
          return true;
        });
        if (made) {
          out.created.push(id);
          o.log.info({ host, container: c.name, ifname: s.ifname, net: s.network }, 'attachment made from labels');
        }
      } catch (err) {
        const where = s.ifname === 'eth1' ? '' : `${s.ifname}.`;
        const error = `labels fleetnet.${where}net=${s.network}: ${describeError(err)}`;
        refusals.push({ id, target, container: who, ifname: s.ifname, net: s.network, error });
      }
    }
  }
  out.changed = out.created.length > 0;
  for (const r of refusals) out.refused.push(`${r.container.name}/${r.ifname}: ${r.error}`);
  if (out.refused.length) o.log.debug({ host, refused: out.refused }, 'container labels not acted on');
  if (!out.changed && refusalsCurrent(knownById, refusals)) return out;
  const now = o.now();
  await o.store.transact((tx) => {
    const wanted = new Set(refusals.map((r) => r.id));
    for (const a of tx.listAttachments({ host })) if (isLabelRefusal(a) && !wanted.has(a.id)) tx.deleteAttachment(a.id);
    for (const r of refusals) {
      const have = tx.getAttachment(r.id);
      if (have && (!isLabelRefusal(have) || have.error === r.error)) continue; // unchanged: no store write
      tx.putAttachment(refusalRecord(tx, host, r, now));
    }
  });
  out.changed = true;
  return out;
}

/** The refusal records are what this pass found: none to add, none to change, none to remove. */
function refusalsCurrent(known: ReadonlyMap<string, AttachmentRecord>, refusals: Refusal[]): boolean {
  const wanted = new Set(refusals.map((r) => r.id));
  for (const a of known.values()) if (isLabelRefusal(a) && !wanted.has(a.id)) return false;
  return refusals.every((r) => {
    const have = known.get(r.id);
    return have !== undefined && (!isLabelRefusal(have) || have.error === r.error);
  });
}
