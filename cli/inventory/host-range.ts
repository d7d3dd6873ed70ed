// Host names as Ansible's inventories write them: `web[1:3]`, `db-[a:c]`, zero-padded
// `node[01:10]`, steps `[1:9:2]`, several ranges in one name, and an optional `:port`.
import { invalid } from '../../common/errors.js';

const LETTERS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** `name:port`, `[v6]:port` or `web[1:3]:2222` → pattern and port (Ansible's parse_address, ranges allowed). */
export function splitHostPort(pattern: string): { pattern: string; port?: number } {
  const v6 = /^\[([^\]]*:[^\]]*)\]:(\d+)$/.exec(pattern);
  if (v6) return { pattern: v6[1]!, port: Number(v6[2]) };
  const m = /^((?:[^:[\]]|\[[^\]]*\])+):(\d+)$/.exec(pattern);
  return m ? { pattern: m[1]!, port: Number(m[2]) } : { pattern };
}

/**
 * Expands every `[beg:end(:step)]` of a host pattern, as Ansible's expand_hostname_range does. `where` names the line
 * for errors.
 */
export function expandHostRange(pattern: string, where: string): string[] {
  const open = pattern.indexOf('[');
  if (open < 0) return [pattern];
  const close = pattern.indexOf(']', open);
  if (close < 0) throw invalid(`${where}: '${pattern}' has '[' without ']'`, 'a host range is written web[1:3]');
  const head = pattern.slice(0, open);
  const tail = pattern.slice(close + 1);
  const bounds = pattern.slice(open + 1, close).split(':');
  const bad = (why: string) =>
    invalid(
      `${where}: host range '${pattern}': ${why}`,
      'write it as [BEGIN:END] or [BEGIN:END:STEP], e.g. web[1:3], db-[a:c], node[01:10]',
    );
  if (bounds.length !== 2 && bounds.length !== 3) throw bad('must be begin:end or begin:end:step');
  const beg = bounds[0] || '0';
  const end = bounds[1]!;
  if (!end) throw bad('needs an end value');
  const stepText = bounds[2] ?? '1';
  if (!/^\d+$/.test(stepText) || Number(stepText) < 1) throw bad(`step '${stepText}' is not a positive number`);
  const step = Number(stepText);
  let seq: string[];
  if (beg.length === 1 && end.length === 1 && LETTERS.includes(beg) && LETTERS.includes(end)) {
    const [i, j] = [LETTERS.indexOf(beg), LETTERS.indexOf(end)];
    if (i > j) throw bad('begin must not be after end');
    seq = [];
    for (let k = i; k <= j; k += step) seq.push(LETTERS[k]!);
  } else {
    if (!/^\d+$/.test(beg) || !/^\d+$/.test(end)) throw bad(`'${beg}:${end}' is neither numbers nor single letters`);
    const pad = beg.length > 1 && beg.startsWith('0') ? beg.length : 0;
    if (pad && end.length !== pad) throw bad('a zero-padded begin and its end must have the same width');
    const [a, b] = [Number(beg), Number(end)];
    if (a > b) throw bad('begin must not be after end');
    seq = [];
    for (let k = a; k <= b; k += step) seq.push(pad ? String(k).padStart(pad, '0') : String(k));
  }
  return seq.flatMap((s) => expandHostRange(`${head}${s}${tail}`, where));
}
