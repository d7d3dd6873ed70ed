// An Ansible inventory as Ansible's InventoryData keeps it: groups (hosts, children, vars) and
// hosts (vars), each definition remembered with the file and line it came from so that errors
// can name them. The INI and YAML readers fill it; resolution (variable precedence) reads it.
import { invalid } from '../../common/errors.js';

/** Where something was written: file and 1-based line. */
export interface Origin {
  file: string;
  line: number;
}

export interface VarDef {
  value: unknown;
  origin: Origin;
}

export interface Group {
  name: string;
  hosts: string[]; // direct members, in the order they were first listed
  children: string[];
  parents: string[];
  vars: Map<string, VarDef>;
  origin: Origin;
}

export interface Host {
  name: string;
  vars: Map<string, VarDef>;
  origin: Origin;
}

/** How the inventory is written: the fix an error gives is written the same way. */
export type InventoryFormat = 'ini' | 'yaml';

/** A variable's assignment as the format writes it: `name=value` (INI), `name: value` (YAML). */
export const assignment = (f: InventoryFormat, name: string, value: string) =>
  f === 'yaml' ? `${name}: ${value}` : `${name}=${value}`;

export class InventoryData {
  readonly groups = new Map<string, Group>();
  readonly hosts = new Map<string, Host>();

  constructor(
    readonly file: string,
    readonly format: InventoryFormat = 'ini',
  ) {
    // Ansible starts every inventory with these two, `ungrouped` a child of `all`.
    this.addGroup('all', { file, line: 0 });
    this.addGroup('ungrouped', { file, line: 0 });
    this.addChild('all', 'ungrouped');
  }

  addGroup(name: string, origin: Origin): Group {
    let g = this.groups.get(name);
    if (!g) this.groups.set(name, (g = { name, hosts: [], children: [], parents: [], vars: new Map(), origin }));
    return g;
  }

  addHost(name: string, group: string | undefined, origin: Origin): Host {
    let h = this.hosts.get(name);
    if (!h) this.hosts.set(name, (h = { name, vars: new Map(), origin }));
    if (group) {
      const g = this.addGroup(group, origin);
      if (!g.hosts.includes(name)) g.hosts.push(name);
    }
    return h;
  }

  /** Makes child a child group of parent; a loop is refused (`where` names the line for the error). */
  addChild(parent: string, child: string, where?: string): void {
    const p = this.groups.get(parent)!;
    const c = this.groups.get(child)!;
    if (parent === child || this.ancestors(parent).has(child)) {
      throw invalid(
        `${where ?? this.file}: making ${child} a child of ${parent} creates a loop`,
        `${child} is already ${parent === child ? 'that group' : `an ancestor of ${parent}`}`,
      );
    }
    if (!p.children.includes(child)) p.children.push(child);
    if (!c.parents.includes(parent)) c.parents.push(parent);
  }

  /**
   * What Ansible's reconcile does after parsing: top-level groups become children of all; hosts in no group, of
   * ungrouped.
   */
  reconcile(): void {
    for (const g of this.groups.values()) {
      if (g.name !== 'all' && g.parents.length === 0) this.addChild('all', g.name);
    }
    const grouped = new Set<string>();
    for (const g of this.groups.values())
      if (g.name !== 'all' && g.name !== 'ungrouped') for (const h of g.hosts) grouped.add(h);
    const ungrouped = this.groups.get('ungrouped')!;
    for (const h of this.hosts.keys()) if (!grouped.has(h) && !ungrouped.hosts.includes(h)) ungrouped.hosts.push(h);
    // A host that joined a real group after being listed at the top leaves ungrouped, as in Ansible.
    ungrouped.hosts = ungrouped.hosts.filter((h) => !grouped.has(h));
  }

  /** Every group above this one. */
  ancestors(name: string): Set<string> {
    const out = new Set<string>();
    const up = (g: string) => {
      for (const p of this.groups.get(g)!.parents)
        if (!out.has(p)) {
          out.add(p);
          up(p);
        }
    };
    up(name);
    return out;
  }

  /** A group's depth as Ansible counts it: all is 0, a child one more than its deepest parent. */
  depth(name: string): number {
    const g = this.groups.get(name)!;
    return g.parents.length ? Math.max(...g.parents.map((p) => this.depth(p) + 1)) : 0; // loops are refused by addChild
  }

  /** Every group a host belongs to, directly or through children (all included). */
  groupsOf(host: string): string[] {
    const out = new Set<string>(['all']);
    for (const g of this.groups.values()) {
      if (!g.hosts.includes(host)) continue;
      out.add(g.name);
      for (const a of this.ancestors(g.name)) out.add(a);
    }
    return [...out];
  }

  /**
   * Every host of a group and its descendants in Ansible's order: the group's own, then its children's, breadth first.
   */
  hostsOf(group: string): string[] {
    const order = [group];
    for (let i = 0; i < order.length; i++)
      for (const c of this.groups.get(order[i]!)!.children) if (!order.includes(c)) order.push(c);
    const out = new Set<string>();
    for (const g of order) for (const h of this.groups.get(g)!.hosts) out.add(h);
    return [...out];
  }

  /**
   * A host's variables with Ansible's precedence: groups sorted by (depth, ansible_group_priority,
   * name), each overriding the ones before (all < parent < child; same depth by name), then the
   * host's own. Returns each variable with where it was set.
   */
  hostVars(host: string): Map<string, VarDef> {
    const groups = this.groupsOf(host).map((name) => {
      const g = this.groups.get(name)!;
      const prio = g.vars.get('ansible_group_priority')?.value;
      return { g, depth: this.depth(name), prio: typeof prio === 'number' ? prio : 1 };
    });
    groups.sort(
      (a, b) => a.depth - b.depth || a.prio - b.prio || (a.g.name < b.g.name ? -1 : a.g.name > b.g.name ? 1 : 0),
    );
    const out = new Map<string, VarDef>();
    // ansible_group_priority orders groups; Ansible keeps it as the group's priority, not a variable
    for (const { g } of groups) for (const [k, v] of g.vars) if (k !== 'ansible_group_priority') out.set(k, v);
    for (const [k, v] of this.hosts.get(host)!.vars) out.set(k, v);
    return out;
  }

  /** The shape of `ansible-inventory --list` (hostvars merged as it prints them), for comparing with Ansible. */
  ansibleList(): Record<string, unknown> {
    const hostvars: Record<string, Record<string, unknown>> = {};
    for (const h of this.hosts.keys()) {
      const vars = Object.fromEntries([...this.hostVars(h)].map(([k, v]) => [k, v.value]));
      if (Object.keys(vars).length) hostvars[h] = vars;
    }
    const out: Record<string, unknown> = { _meta: { hostvars } };
    for (const g of this.groups.values()) {
      const e: Record<string, unknown> = {};
      if (g.children.length) e.children = [...g.children];
      if (g.hosts.length && g.name !== 'all') e.hosts = [...g.hosts]; // Ansible prints all's hosts under ungrouped only
      if (Object.keys(e).length) out[g.name] = e;
    }
    return out;
  }
}
