// iproute2 through the Runner: one `ip -batch` per namespace keeps an attach to two execs.
import { invalid } from '../../common/errors.js';
import type { Runner } from '../../common/runner.js';

/** One batch line; tokens were validated upstream, this is the last guard against injection. */
export function line(...tokens: (string | number)[]): string {
  for (const t of tokens) {
    const s = String(t);
    if (s === '' || /[\s"'\\#]/.test(s)) throw invalid(`refusing to pass '${s}' to ip: empty or contains whitespace or quotes`);
  }
  return tokens.join(' ');
}

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

export interface IpExec {
  /** Runs batch lines in the agent's own namespace. */
  host(lines: string[]): Promise<unknown[][]>;
  /** Runs batch lines inside a network namespace (nsenter --net=PATH). */
  inNs(netns: string, lines: string[], opts?: { family?: 4 | 6 }): Promise<unknown[][]>;
  /** Describes what host()/inNs() would run, for --dry-run. */
  describe(netns: string | undefined, lines: string[], family?: 4 | 6): string[];
}

export function ipExec(runner: Runner): IpExec {
  const ipArgs = (family?: 4 | 6) => [...(family ? [`-${family}`] : []), '-json', '-batch', '-'];
  return {
    async host(lines) {
      const r = await runner.run('ip', ipArgs(), { input: lines.join('\n') + '\n' });
      return parseJsonArrays(r.stdout);
    },
    async inNs(netns, lines, opts = {}) {
      const r = await runner.run('nsenter', [`--net=${netns}`, 'ip', ...ipArgs(opts.family)], { input: lines.join('\n') + '\n' });
      return parseJsonArrays(r.stdout);
    },
    describe(netns, lines, family) {
      const prefix = netns ? `nsenter --net=${netns} ip` : 'ip';
      const fam = family ? ` -${family}` : '';
      return lines.map((l) => `${prefix}${fam} ${l}`);
    },
  };
}
