// An Ansible-like inventory for `fleetnet host add --inventory hosts.yaml`. The YAML this reads
// is the plain block-mapping subset such files use (nested `key: value`, comments, quoted
// scalars): enough for an inventory without a YAML dependency. Validated once with zod.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { invalid } from '../../common/errors.js';

type Tree = { [k: string]: string | Tree };

export function parseBlockYaml(text: string, file = 'inventory'): Tree {
  const root: Tree = {};
  const stack: { indent: number; node: Tree }[] = [{ indent: -1, node: root }];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\s+#.*$/, '').replace(/^\s*#.*$/, '');
    if (!line.trim()) return;
    if (/\t/.test(line.slice(0, line.length - line.trimStart().length))) throw invalid(`${file}:${i + 1}: tab in indentation`, 'indent with spaces');
    const indent = line.length - line.trimStart().length;
    const m = /^([A-Za-z0-9_.-]+):(?:\s+(.*))?$/.exec(line.trim());
    if (!m) throw invalid(`${file}:${i + 1}: expected "key: value" or "key:"`, 'this reader takes nested key: value mappings only (no lists or flow style)');
    while (stack.length > 1 && indent <= stack[stack.length - 1]!.indent) stack.pop();
    const parent = stack[stack.length - 1]!.node;
    const key = m[1] as string;
    if (key in parent) throw invalid(`${file}:${i + 1}: "${key}" given twice`);
    if (m[2] === undefined || m[2] === '') {
      const child: Tree = {};
      parent[key] = child;
      stack.push({ indent, node: child });
    } else parent[key] = m[2].replace(/^"(.*)"$/, '$1').replace(/^'(.*)'$/, '$1');
  });
  return root;
}

const HostEntry = z.object({
  addr: z.string().min(1),
  user: z.string().optional(),
  port: z.coerce.number().int().min(1).max(65535).optional(),
  identity: z.string().optional(),
  listen: z.string().optional(),
  ovs: z.enum(['true', 'false']).optional(),
}).strict();

const Inventory = z.object({
  defaults: z.object({
    user: z.string().default('root'),
    port: z.coerce.number().int().min(1).max(65535).default(22),
    identity: z.string().optional(),
    controller: z.string().optional(),
    ovs: z.enum(['true', 'false']).optional(),
  }).strict().default({ user: 'root', port: 22 }),
  hosts: z.record(z.string(), HostEntry),
}).strict();

export interface InventoryHost {
  name: string;
  user: string;
  addr: string;
  port: number;
  identity?: string;
  listen?: string;
  ovs: boolean;
}

export function loadInventory(file: string): { hosts: InventoryHost[]; controller?: string } {
  const r = Inventory.safeParse(parseBlockYaml(readFileSync(file, 'utf8'), file));
  if (!r.success) throw invalid(`${file}: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, 'see `fleetnet host add --help` for the inventory format');
  const d = r.data.defaults;
  const hosts = Object.entries(r.data.hosts).map(([name, h]) => ({
    name, addr: h.addr, user: h.user ?? d.user, port: h.port ?? d.port,
    ...(h.identity ?? d.identity ? { identity: (h.identity ?? d.identity) as string } : {}),
    ...(h.listen ? { listen: h.listen } : {}),
    ovs: (h.ovs ?? d.ovs) === 'true',
  }));
  if (hosts.length === 0) throw invalid(`${file} lists no hosts`, 'add them under hosts:');
  return { hosts, ...(d.controller ? { controller: d.controller } : {}) };
}
