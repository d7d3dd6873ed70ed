// One attachment against what its agent reports: the order to send (attach, detach, nothing) and the
// record to write (up, failed, stopped, detached, container removed). The dispatcher decides when and
// on which host this runs (dispatcher.ts); this decides what one attachment needs.
import type { Logger } from 'pino';
import { describeError, FleetnetError } from '../../common/errors.js';
import type { Interface } from '../../proto/gen/fleetnet/v1/agent.js';
import { containerRemoved, finishDetach, markFailed, markStopped, markUp, MAX_RETRY_MS } from '../fleet/attachments.js';
import type { Store } from '../store/store.js';
import type { AttachmentRecord } from '../store/types.js';
import { isUnreachable, type AgentLink } from './agent-link.js';
import { isLabelRefusal } from './labels.js';
import { agentAttachRequest, agentMatches, reportOf } from './to-agent.js';

export interface ConvergeContext {
  store: Store;
  log: Logger;
  now: () => number;
  attachTimeoutMs: number;
  /** Cancels the calls to the agent (the controller stops). */
  signal?: AbortSignal;
  /** The attachment was settled or changed here: wake whoever waits for it. */
  settled(id: string): void;
  /** An attach or detach happened (`fleetnet events`). */
  tell(kind: 'attach' | 'detach', a: AttachmentRecord, container?: string): void;
}

/**
 * Brings one attachment to what its record asks. `known`: `have` is what the agent's List said;
 * else the agent was not asked (a targeted pass), and an attachment already up is left alone.
 * Throws what isUnreachable() recognises when the agent did not answer.
 */
export async function convergeOne(
  c: ConvergeContext,
  a: AttachmentRecord,
  have: Interface | undefined,
  link: AgentLink,
  known = true,
): Promise<void> {
  const { store, log } = c;
  const now = c.now();
  if (isLabelRefusal(a) && a.desired === 'present') return; // nothing to make: shown until its labels change
  if (a.desired === 'absent') {
    if (have || !known) await detachOf(c, a, link);
    if (await store.transact((tx) => finishDetach(tx, a.id, a.generation))) {
      log.info({ id: a.id, host: a.host }, 'detached');
      c.tell('detach', a);
    }
    return c.settled(a.id);
  }
  const matches = have !== undefined && agentMatches(a, have);
  if (matches && have.state === 'stopped') {
    // The container is stopped: its addresses stay reserved; the agent re-applies on its start.
    await store.transact((tx) => markStopped(tx, a.id, a.generation, now));
    return c.settled(a.id);
  }
  if (matches && have.state === 'failed') {
    // The agent retries it with backoff on its own; the controller shows its attempts and error.
    if (a.state !== 'failed' || a.error !== have.lastError)
      await store.transact((tx) => markFailed(tx, a.id, a.generation, have.lastError, now, have.attempts));
    return c.settled(a.id);
  }
  if (matches && (have.state === 'up' || have.state === '')) {
    if (reportChanged(a, have)) await store.transact((tx) => markUp(tx, a.id, a.generation, reportOf(have), now));
    return c.settled(a.id);
  }
  if (!known && a.state === 'up') return;
  // A failed attachment is retried with backoff (the attempts and the last error show in ls).
  if (a.state === 'failed' && (a.nextRetryMs ?? 0) > now) return;
  // Made with other settings: undone first. Made as asked but not working (missing, container
  // restarted): the agent's attach makes it again through the same path.
  if (have && !matches) await detachOf(c, a, link);
  await attachOf(c, a, link);
  c.settled(a.id);
}

/** Up now, or the agent reports something changed (a DHCP lease, the host-side name, the MTU): rewrite the record. */
function reportChanged(a: AttachmentRecord, have: Interface): boolean {
  const extra = reportOf(have).addresses.filter((x) => !a.addresses.some((s) => s.cidr === x));
  return (
    a.state !== 'up' ||
    a.hostIfname !== have.hostIfname ||
    extra.join() !== a.reportedAddresses.join() ||
    (!!have.mtu && have.mtu !== a.reportedMtu)
  );
}

function detachOf(c: ConvergeContext, a: AttachmentRecord, link: AgentLink): Promise<unknown> {
  return link.detach(
    { target: { kind: a.target.kind, value: a.target.value }, ifname: a.ifname, attachmentId: a.id },
    c.attachTimeoutMs,
    c.signal,
  );
}

async function attachOf(c: ConvergeContext, a: AttachmentRecord, link: AgentLink): Promise<void> {
  const { store, log } = c;
  try {
    const res = await link.attach(agentAttachRequest(a), c.attachTimeoutMs, c.signal);
    await store.transact((tx) => markUp(tx, a.id, a.generation, reportOf(res.interface!), c.now()));
    log.info({ id: a.id, host: a.host, container: res.interface?.container?.name, ifname: a.ifname }, 'attached');
    c.tell('attach', a, res.interface?.container?.name);
  } catch (err) {
    if (isUnreachable(err)) throw err;
    if (a.container && err instanceof FleetnetError && err.kind === 'not_found') {
      // It was made once and its container is gone now (removed while nobody watched, or its
      // agent already released it): free what it held, unless it asked to keep it.
      const r = await store.transact((tx) => containerRemoved(tx, a.id, a.generation, c.now()));
      log.info({ id: a.id, host: a.host, container: a.container.name, outcome: r }, 'container removed');
      return;
    }
    // Bad input the agent refused before making anything: no early retry mends it, so the next is a minute away.
    const refused = err instanceof FleetnetError && err.kind === 'invalid';
    const why = describeError(refused ? withFleetHint(a, err) : err);
    const delayMs = refused ? MAX_RETRY_MS : undefined;
    await store.transact((tx) => markFailed(tx, a.id, a.generation, why, c.now(), undefined, delayMs));
    log.info({ id: a.id, host: a.host, err: why }, 'agent refused or failed the attach');
  }
}

/**
 * The agent's refusal with a hint for a fleet attach: the agent's own is written for a local attach (e.g. "drop
 * --kind"), which the fleet's user did not give. The network names the host interface, so the ways out are a
 * network naming another one, that interface changed on the host, or the attachment dropped.
 */
function withFleetHint(a: AttachmentRecord, err: FleetnetError): FleetnetError {
  const other = a.kind === 'macvlan' ? `--parent ${a.host}=IF` : '--bridge NAME';
  const target = a.ifname === 'eth1' ? a.target.value : `${a.target.value} -i ${a.ifname}`;
  const hint =
    `network ${a.net} uses '${a.hostIf}' on ${a.host}: remove or rename '${a.hostIf}' there (the attach is ` +
    `tried again every minute), or drop the attachment (fleetnet detach --host ${a.host} ${target}) and give ` +
    `the network another one (fleetnet net rm ${a.net}, then fleetnet net create ${a.net} ${other} …)`;
  return new FleetnetError(err.kind, err.message, { hint, cause: err });
}
