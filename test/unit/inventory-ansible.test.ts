// cli/inventory/ against Ansible itself: the same files through `ansible-inventory --list` (groups,
// children, ranges, merged host vars with precedence) and `ansible PATTERN --list-hosts` (limits).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { ExecRunner } from '../../common/runner.js';
import { parseInventory } from '../../cli/inventory/load.js';
import { selectHosts } from '../../cli/inventory/pattern.js';

const DIR = join(import.meta.dirname, 'fixtures', 'inventory');
const FILES = ['fleet.ini', 'fleet.yaml'];
const runner = new ExecRunner();
// Ansible must not read a user's ansible.cfg or write retry files; it only reads these files.
const env = {
  ...process.env,
  ANSIBLE_CONFIG: join(DIR, 'ansible.cfg'),
  ANSIBLE_RETRY_FILES_ENABLED: 'false',
  ANSIBLE_LOCALHOST_WARNING: 'false',
  ANSIBLE_INVENTORY_UNPARSED_WARNING: 'false',
};

let haveAnsible = false;
before(async () => {
  haveAnsible =
    (await runner.run('ansible-inventory', ['--version'], { allowFail: true, env }).catch(() => ({ code: 127 })))
      .code === 0;
  if (!haveAnsible && process.env.CI)
    throw new Error('ansible-inventory is missing in CI: scripts/setup.sh installs ansible-core');
});

/** Arrays of names compared as sets: Ansible orders some of them by hash. */
function norm(v: unknown, key = ''): unknown {
  if (Array.isArray(v)) return key === 'hosts' || key === 'children' ? [...v].sort() : v.map((x) => norm(x));
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.entries(v)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, x]) => [k, norm(x, k)]),
    );
  return v;
}

const load = (f: string) => parseInventory(readFileSync(join(DIR, f), 'utf8'), join(DIR, f));

describe('inventories resolve as ansible-inventory --list resolves them', () => {
  for (const f of FILES) {
    it(f, async (t) => {
      if (!haveAnsible) return t.skip('ansible-inventory is not installed (apt-get install ansible-core)');
      const r = await runner.run('ansible-inventory', ['-i', join(DIR, f), '--list'], { env, timeoutMs: 60_000 });
      assert.deepEqual(norm(load(f).ansibleList()), norm(JSON.parse(r.stdout)));
    });
  }
});

const PATTERNS = [
  'all',
  'web',
  'dc1:&db',
  'prod:!db-b',
  'web*',
  '~db-[ab]',
  'web1,db-c,bastion',
  'db:web:!web2',
  '*.example.com',
];

// Ansible's own InventoryManager (the code behind `ansible PATTERN --list-hosts` and --limit), in one
// Python process for every file and pattern (Debian's python3, which has ansible-core's modules):
// an `ansible` process per pattern costs seconds each.
const ORACLE = `
import json, sys
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
files, patterns = json.loads(sys.argv[1]), json.loads(sys.argv[2])
out = {}
for f in files:
    im = InventoryManager(loader=DataLoader(), sources=[f])
    out[f] = {p: [h.name for h in im.get_hosts(pattern=p)] for p in patterns}
print(json.dumps(out))
`;

it('--limit selects what Ansible selects for the same pattern', async (t) => {
  if (!haveAnsible) return t.skip('ansible-core is not installed (apt-get install ansible-core)');
  const paths = FILES.map((f) => join(DIR, f));
  const r = await runner.run('/usr/bin/python3', ['-c', ORACLE, JSON.stringify(paths), JSON.stringify(PATTERNS)], {
    env,
    timeoutMs: 60_000,
  });
  const theirs = JSON.parse(r.stdout) as Record<string, Record<string, string[]>>;
  for (const f of FILES) {
    const inv = load(f);
    for (const p of PATTERNS) {
      const want = theirs[join(DIR, f)]![p]!;
      // a pattern that matches nothing in this file is refused by fleetnet (Ansible warns)
      if (!want.length) assert.throws(() => selectHosts(inv, p), /matches no host|leaves no host/, `${f}: ${p}`);
      else assert.deepEqual([...selectHosts(inv, p)].sort(), [...want].sort(), `${f}: --limit ${p}`);
    }
  }
});
