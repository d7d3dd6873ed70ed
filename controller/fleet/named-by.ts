// Which attachments a TARGET names, in any form attach takes (name or ID, docker:, netns:, lxc:, pid:,
// a netns path): as the attach recorded it, or as its agent resolved it. One rule for detach and inspect.
import type { TargetRef } from '../../common/attach/index.js';
import type { AttachmentRecord } from '../store/types.js';

/** Docker's short ID is 12 hex digits: a prefix that long names one container, as `docker` reads it. */
const MIN_ID_PREFIX = 12;

/** Paths whose namespace the controller knows without asking the agent: a process's, or `ip netns`'s own dir. */
const PROC_NS = /^\/proc\/([1-9]\d{0,9})\/ns\/net$/;
const RUN_NETNS = /^\/(?:var\/)?run\/netns\/([^/]+)$/;

/** `/proc/N/ns/net` is pid:N and `/run/netns/X` is netns:X, whichever way an attach or a lookup wrote it. */
function canonical(t: TargetRef): TargetRef {
  if (t.kind !== 'path') return t;
  const pid = PROC_NS.exec(t.value)?.[1];
  if (pid) return { kind: 'pid', value: pid };
  const netns = RUN_NETNS.exec(t.value)?.[1];
  return netns ? { kind: 'netns', value: netns } : t;
}

export function isNamedBy(a: AttachmentRecord, target: TargetRef): boolean {
  const t = canonical(target);
  const r = canonical(a.target);
  if (r.kind === t.kind && r.value === t.value) return true;
  const c = a.container;
  const idOf = (v: string) => !!c && (c.id === v || (v.length >= MIN_ID_PREFIX && c.id.startsWith(v)));
  switch (t.kind) {
    case 'auto':
      return r.value === t.value || c?.name === t.value || idOf(t.value);
    case 'docker':
    case 'netns':
    case 'lxc':
      // Made with a bare name: the runtime its agent found it in, or (not made yet) the name alone.
      if (!c) return r.kind === 'auto' && r.value === t.value;
      return c.runtime === t.kind && (c.name === t.value || idOf(t.value));
    case 'pid':
      return !!c?.pid && c.pid === Number(t.value);
    case 'path':
      return c?.runtime === 'netns' && c.name === t.value; // the agent names a namespace found by path so
  }
}
