// iproute2 through the Runner: typed link operations rendered as `ip -batch` text, one batch per
// namespace, which keeps an attach to two execs (the `--ip-path exec` path and --dry-run).
import type { Runner } from '../../common/runner.js';
import { devconfSysctl, renderOp, type LinkOp } from './link-ops.js';

export { line } from './ip-line.js';

/** `ip -json -batch` prints one JSON array per show command, back to back. */
export function parseJsonArrays(out: string): unknown[][] {
  const res: unknown[][] = [];
  let depth = 0;
  let start = -1;
  let inStr = false;
  for (let i = 0; i < out.length; i++) {
    const c = out[i];
    if (inStr) {
      if (c === '\\') i++;
      else if (c === '"') inStr = false;
      continue;
    }
    if (c === '"') inStr = true;
    else if (c === '[' || c === '{') {
      if (depth === 0) start = i;
      depth++;
    } else if (c === ']' || c === '}') {
      depth--;
      if (depth === 0 && start >= 0) {
        const v = JSON.parse(out.slice(start, i + 1));
        res.push(Array.isArray(v) ? v : [v]);
        start = -1;
      }
    }
  }
  return res;
}

/** Carries out typed link operations, in order; the first failure stops the batch. */
export interface IpExec {
  /** Runs operations in the agent's own namespace. */
  host(ops: LinkOp[]): Promise<unknown[][]>;
  /** Runs operations inside a network namespace (nsenter --net=PATH). */
  inNs(netns: string, ops: LinkOp[], opts?: { family?: 4 | 6 }): Promise<unknown[][]>;
  /** The iproute2 commands equivalent to host()/inNs(), for --dry-run. */
  describe(netns: string | undefined, ops: LinkOp[], family?: 4 | 6): string[];
}

/** The `ip -batch` input of a list of operations. */
export function renderBatch(ops: LinkOp[]): string {
  return ops.map(renderOp).join('\n') + '\n';
}

/** A batch cut where devconf and `ip` operations alternate: each run is one `sysctl` or one `ip -batch`. */
function segments(ops: LinkOp[]): ({ sysctl: string[] } | { ip: LinkOp[] })[] {
  const out: ({ sysctl: string[] } | { ip: LinkOp[] })[] = [];
  for (const o of ops) {
    const last = out[out.length - 1];
    if (o.t === 'devconf') {
      const args = devconfSysctl(o).slice(2);
      if (last && 'sysctl' in last) last.sysctl.push(...args);
      else out.push({ sysctl: ['-q', '-w', ...args] });
    } else if (last && 'ip' in last) last.ip.push(o);
    else out.push({ ip: [o] });
  }
  return out;
}

/** The iproute2 batch-text renderer: each batch is one `ip -json -batch -` exec (after one `sysctl` for devconf). */
export function ipExec(runner: Runner): IpExec {
  const ipArgs = (family?: 4 | 6) => [...(family ? [`-${family}`] : []), '-json', '-batch', '-'];
  const batch = async (enter: string[], ops: LinkOp[], family?: 4 | 6): Promise<unknown[][]> => {
    const run = (cmd: string, args: string[], input?: string) => {
      const o = input === undefined ? {} : { input };
      return enter.length ? runner.run('nsenter', [...enter, cmd, ...args], o) : runner.run(cmd, args, o);
    };
    const out: unknown[][] = [];
    for (const seg of segments(ops)) {
      if ('sysctl' in seg) await run('sysctl', seg.sysctl);
      else out.push(...parseJsonArrays((await run('ip', ipArgs(family), renderBatch(seg.ip))).stdout));
    }
    return out;
  };
  return {
    host: (ops) => batch([], ops),
    inNs: (netns, ops, opts = {}) => batch([`--net=${netns}`], ops, opts.family),
    describe(netns, ops, family) {
      const enter = netns ? `nsenter --net=${netns} ` : '';
      const fam = family ? ` -${family}` : '';
      return segments(ops).flatMap((seg) =>
        'sysctl' in seg
          ? [`${enter}sysctl ${seg.sysctl.join(' ')}`]
          : seg.ip.map((o) => `${enter}ip${fam} ${renderOp(o)}`),
      );
    },
  };
}
