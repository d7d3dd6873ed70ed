// iproute2 through the Runner: typed link operations rendered as `ip -batch` text, one batch per
// namespace, which keeps an attach to two execs (the `--ip-path exec` path and --dry-run).
import type { Runner } from '../../common/runner.js';
import { renderOp, type LinkOp } from './link-ops.js';

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

/** The iproute2 batch-text renderer: each batch is one `ip -json -batch -` exec. */
export function ipExec(runner: Runner): IpExec {
  const ipArgs = (family?: 4 | 6) => [...(family ? [`-${family}`] : []), '-json', '-batch', '-'];
  return {
    async host(ops) {
      const r = await runner.run('ip', ipArgs(), { input: renderBatch(ops) });
      return parseJsonArrays(r.stdout);
    },
    async inNs(netns, ops, opts = {}) {
      const r = await runner.run('nsenter', [`--net=${netns}`, 'ip', ...ipArgs(opts.family)], {
        input: renderBatch(ops),
      });
      return parseJsonArrays(r.stdout);
    },
    describe(netns, ops, family) {
      const prefix = netns ? `nsenter --net=${netns} ip` : 'ip';
      const fam = family ? ` -${family}` : '';
      return ops.map((o) => `${prefix}${fam} ${renderOp(o)}`);
    },
  };
}
