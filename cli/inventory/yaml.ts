// Ansible's YAML inventory, read as Ansible's yaml plugin reads it: top-level keys are groups,
// each with optional `hosts`, `vars` and `children` (children are groups of the same shape).
// Parsed with the `yaml` package in YAML 1.1 mode (PyYAML's: `yes` is true), walking its nodes so
// that every host, group and variable keeps its line. Stricter than Ansible in one way: a key other
// than hosts/vars/children in a group (`host:` for `hosts:`) is an error, where Ansible warns and
// drops it (and with it, silently, the hosts under it).
import {
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  type Document,
  type Node,
  type Pair,
  type YAMLMap,
} from 'yaml';
import { invalid } from '../../common/errors.js';
import { expandHostRange, splitHostPort } from './host-range.js';
import { InventoryData, type Origin } from './model.js';

const SECTIONS = new Set(['hosts', 'vars', 'children']);

export function parseYamlInventory(text: string, file: string): InventoryData {
  const lc = new LineCounter();
  const doc = parseDocument(text, { version: '1.1', lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const first = doc.errors[0];
  if (first) {
    const line = lc.linePos(first.pos[0]).line;
    throw invalid(`${file}:${line}: ${first.message.split('\n')[0]}`, 'fix the YAML syntax there');
  }
  const inv = new InventoryData(file, 'yaml');
  const root = doc.contents;
  if (!isMap(root))
    throw invalid(
      `${file}: a YAML inventory is a mapping of groups (all: hosts: ...)`,
      'start it with all:, then hosts:, vars:, children:',
    );
  const r = new YamlReader(inv, doc, lc, file);
  for (const pair of root.items) r.group(pair);
  inv.reconcile();
  return inv;
}

class YamlReader {
  constructor(
    private readonly inv: InventoryData,
    private readonly doc: Document,
    private readonly lc: LineCounter,
    private readonly file: string,
  ) {}

  private at(node: unknown): Origin {
    const range = (node as Node | undefined)?.range;
    return { file: this.file, line: range ? this.lc.linePos(range[0]).line : 0 };
  }

  private where(node: unknown): string {
    return `${this.file}:${this.at(node).line}`;
  }

  private keyOf(pair: Pair): string {
    const k = pair.key;
    if (!isScalar(k) || k.value === null || typeof k.value === 'object')
      throw invalid(`${this.where(k)}: a key must be a plain name`);
    return String(k.value);
  }

  /** A mapping, or undefined for an empty value (`web:` with nothing under it). */
  private mapOrEmpty(node: unknown, what: string): YAMLMap | undefined {
    if (node === null || node === undefined || (isScalar(node) && node.value === null)) return undefined;
    if (!isMap(node))
      throw invalid(
        `${this.where(node)}: ${what} must be a mapping`,
        isSeq(node)
          ? 'write its entries as keys (web1:), not as a list (- web1)'
          : 'indent its entries under it as key: value',
      );
    return node;
  }

  group(pair: Pair): string {
    const name = this.keyOf(pair);
    const where = this.where(pair.key);
    this.inv.addGroup(name, this.at(pair.key));
    const body = this.mapOrEmpty(pair.value, `group ${name}`);
    for (const sec of body?.items ?? []) {
      const key = this.keyOf(sec);
      if (!SECTIONS.has(key))
        throw invalid(
          `${this.where(sec.key)}: '${key}' in group ${name} is not hosts, vars or children`,
          'Ansible would skip it with a warning; fix the key',
        );
      const m = this.mapOrEmpty(sec.value, `${key} of group ${name}`);
      for (const item of m?.items ?? []) {
        if (key === 'vars')
          this.inv.groups
            .get(name)!
            .vars.set(this.keyOf(item), { value: this.value(item.value), origin: this.at(item.key) });
        else if (key === 'children') this.inv.addChild(name, this.group(item), where);
        else this.hosts(name, item);
      }
    }
    return name;
  }

  private hosts(group: string, item: Pair): void {
    const at = this.at(item.key);
    const key = this.keyOf(item);
    if (/[\s=]/.test(key)) {
      // `web1 ansible_host=10.0.0.1`: an INI host line, written as a YAML key
      const [name, ...words] = key.split(/\s+/);
      const vars = words.filter((w) => w.includes('=')).map((w) => w.replace('=', ': '));
      throw invalid(
        `${this.where(item.key)}: '${key}' is not a host name`,
        vars.length
          ? `in YAML a host is a key and its variables go under it: ${name}: {${vars.join(', ')}}`
          : 'one host per key: a host name has no spaces',
      );
    }
    const { pattern, port } = splitHostPort(key);
    const vars = this.mapOrEmpty(item.value, `the variables of host ${pattern}`);
    for (const name of expandHostRange(pattern, this.where(item.key))) {
      const h = this.inv.addHost(name, group, at);
      if (port !== undefined) h.vars.set('ansible_port', { value: port, origin: at });
      for (const v of vars?.items ?? [])
        h.vars.set(this.keyOf(v), { value: this.value(v.value), origin: this.at(v.key) });
    }
  }

  private value(node: unknown): unknown {
    return node && typeof (node as Node).toJSON === 'function' ? (node as Node).toJS(this.doc) : (node ?? null);
  }
}
