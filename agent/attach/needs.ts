// What an attach kind needs of this host (a kernel feature, Open vSwitch), checked before anything changes.
import { unsupported } from '../../common/errors.js';
import type { Runner } from '../../common/runner.js';
import { probeCapabilities, type Capability } from '../linux/capabilities.js';
import type { Need } from './kinds/types.js';

/** The capabilities the agent was given, or this host's, probed once when an attach first needs them. */
export function capabilitiesOnce(d: {
  capabilities?: (() => Promise<Capability[]>) | undefined;
  runner: Runner;
  ovsDb?: string | undefined;
  sysClassNet?: string | undefined;
}): () => Promise<Capability[]> {
  if (d.capabilities) return d.capabilities;
  let probed: Promise<Capability[]> | undefined;
  const opts = { ...(d.ovsDb ? { ovsDb: d.ovsDb } : {}), ...(d.sysClassNet ? { sysClassNet: d.sysClassNet } : {}) };
  return () => (probed ??= probeCapabilities(d.runner, undefined, opts));
}

/** Refuses, before anything changes, an attach this host cannot do. */
export function refuseUnmet(caps: readonly Capability[], needs: readonly Need[]): void {
  for (const n of needs) {
    const cap = caps.find((x) => x.name === n.cap);
    if (cap && !cap.available) throw unsupported(cap.detail, n.hint);
  }
}
