// TARGET: which container an attach is for (Docker name or ID, PID, named netns, LXC, netns path).
import { invalid } from '../errors.js';

export type TargetKind = 'auto' | 'docker' | 'pid' | 'netns' | 'lxc' | 'path';
export interface TargetRef {
  kind: TargetKind;
  value: string;
}

const PID_RE = /^[1-9]\d{0,9}$/;

export function parseTarget(t: string): TargetRef {
  if (t.length === 0) throw invalid('the container is empty');
  if (t.startsWith('/')) return { kind: 'path', value: t };
  const m = /^(docker|pid|netns|lxc):(.*)$/s.exec(t);
  if (m) {
    const kind = m[1] as TargetKind;
    const value = m[2]!;
    if (!value) throw invalid(`'${t}' names no container`, `write ${kind}:NAME`);
    if (kind === 'pid' && !PID_RE.test(value)) throw invalid(`'${value}' is not a process id`);
    if (kind !== 'pid') checkName(value, kind);
    return { kind, value };
  }
  if (/^\d+$/.test(t)) {
    if (!PID_RE.test(t)) throw invalid(`'${t}' is not a process id`);
    return { kind: 'pid', value: t };
  }
  checkName(t, 'container');
  return { kind: 'auto', value: t };
}

/** A target as the proto carries it: kind and value side by side. */
export function parseTargetParts(kind: string, value: string): TargetRef {
  if (!value) throw invalid('no container given');
  return parseTarget(kind && kind !== 'auto' && kind !== 'path' ? `${kind}:${value}` : value);
}

function checkName(v: string, what: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/.test(v)) {
    throw invalid(
      `${what} name '${v}' has characters no container or namespace name uses`,
      `names are letters, digits, '.', '-' and '_'`,
    );
  }
}
