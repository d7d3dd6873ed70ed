// Ansible's INI inventory format, read as Ansible's ini plugin reads it. It is not standard INI
// (the `ini` package would take `web1 ansible_host=10.0.0.1` as one key): host lines carry
// shell-quoted `key=value` words, sections are `[g]`, `[g:vars]`, `[g:children]`, and values are
// Python literals. No npm package reads this format, so this small reader does (README says why).
import { invalid } from '../../common/errors.js';
import { expandHostRange, splitHostPort } from './host-range.js';
import { InventoryData, type Origin } from './model.js';
import { parsePythonValue } from './python-literal.js';

const SECTION = /^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:#.*)?$/;
const GROUP_NAME = /^([^:\]\s]+)\s*(?:#.*)?$/;

/** POSIX shell-like word splitting with `#` comments (Python's shlex.split(line, comments=True)). */
export function shellWords(line: string, where: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === '#') break;
    if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (c === '\\') {
      if (i + 1 < line.length) cur += line[++i];
    } else if (c === "'" || c === '"') {
      const end = c === "'" ? line.indexOf("'", i + 1) : closingDoubleQuote(line, i + 1);
      if (end < 0) throw invalid(`${where}: no closing quotation`, `close the ${c} quote`);
      const body = line.slice(i + 1, end);
      cur += c === '"' ? body.replace(/\\(["\\])/g, '$1') : body;
      i = end;
    } else cur += c;
  }
  if (inWord) words.push(cur);
  return words;
}

function closingDoubleQuote(line: string, from: number): number {
  for (let i = from; i < line.length; i++) {
    if (line[i] === '\\') i++;
    else if (line[i] === '"') return i;
  }
  return -1;
}

interface Pending {
  line: number;
  state: 'vars' | 'children';
  parents: string[];
}

export function parseIniInventory(text: string, file: string): InventoryData {
  const inv = new InventoryData(file);
  const pending = new Map<string, Pending>();
  let group = 'ungrouped';
  let state: 'hosts' | 'vars' | 'children' = 'hosts';
  const lines = text.split(/\r?\n/);
  for (let n = 1; n <= lines.length; n++) {
    const line = lines[n - 1]!.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const at: Origin = { file, line: n };
    const where = `${file}:${n}`;
    const sec = SECTION.exec(line);
    if (sec) {
      group = sec[1]!;
      const kind = sec[2] ?? 'hosts';
      if (kind !== 'hosts' && kind !== 'vars' && kind !== 'children') {
        throw invalid(
          `${where}: section [${group}:${kind}] has unknown type '${kind}'`,
          'a section is [GROUP], [GROUP:vars] or [GROUP:children]',
        );
      }
      state = kind;
      if (!inv.groups.has(group) && state === 'vars' && !pending.has(group))
        pending.set(group, { line: n, state: 'vars', parents: [] });
      inv.addGroup(group, at);
      const p = pending.get(group);
      if (p && state !== 'vars') {
        if (p.state === 'children') for (const parent of p.parents) inv.addChild(parent, group, where);
        pending.delete(group);
      }
      continue;
    }
    if (line.startsWith('[')) {
      throw invalid(
        `${where}: invalid section '${line}'`,
        'write [GROUP], [GROUP:vars] or [GROUP:children], with no spaces in the brackets',
      );
    }
    if (state === 'hosts') {
      const words = shellWords(line, where);
      if (!words.length) continue;
      const { pattern, port } = splitHostPort(words[0]!);
      const vars = new Map<string, unknown>();
      for (const w of words.slice(1)) {
        const eq = w.indexOf('=');
        if (eq <= 0)
          throw invalid(
            `${where}: expected key=value host variable, got '${w}'`,
            'write host lines as NAME key=value key2="a value"',
          );
        vars.set(w.slice(0, eq), parsePythonValue(w.slice(eq + 1)));
      }
      for (const name of expandHostRange(pattern, where)) {
        const h = inv.addHost(name, group, at);
        if (port !== undefined) h.vars.set('ansible_port', { value: port, origin: at });
        for (const [k, value] of vars) h.vars.set(k, { value, origin: at });
      }
    } else if (state === 'vars') {
      const eq = line.indexOf('=');
      if (eq < 0)
        throw invalid(
          `${where}: expected key=value, got '${line}'`,
          `a [${group}:vars] section holds one key=value per line`,
        );
      const key = line.slice(0, eq).trim();
      if (!key) throw invalid(`${where}: a variable needs a name before '='`);
      inv.groups.get(group)!.vars.set(key, { value: parsePythonValue(line.slice(eq + 1).trim()), origin: at });
    } else {
      const m = GROUP_NAME.exec(line);
      if (!m)
        throw invalid(
          `${where}: '${line}' is not a valid group name`,
          'one group name per line in a [GROUP:children] section',
        );
      const child = m[1]!;
      if (inv.groups.has(child)) inv.addChild(group, child, where);
      else {
        const p = pending.get(child);
        if (p) p.parents.push(group);
        else pending.set(child, { line: n, state: 'children', parents: [group] });
      }
    }
  }
  for (const [name, p] of pending) {
    if (p.state === 'vars')
      throw invalid(
        `${file}:${p.line}: section [${name}:vars] is for a group that is never defined`,
        `define the group with [${name}] or [${name}:children], or fix its name`,
      );
    throw invalid(
      `${file}:${p.line}: section [${p.parents.at(-1)}:children] names undefined group '${name}'`,
      `define it with a [${name}] section, or fix its name`,
    );
  }
  inv.reconcile();
  return inv;
}
