// cli/inventory/: what fleetnet resolves for each host, and bad input (syntax, unknown variables,
// ranges, --limit) refused with exit 2 naming the file and line or the token. The Ansible oracle
// for the same files is inventory-ansible.test.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FleetnetError } from '../../common/errors.js';
import { expandHostRange } from '../../cli/inventory/host-range.js';
import { loadInventory } from '../../cli/inventory/load.js';
import { parsePythonValue } from '../../cli/inventory/python-literal.js';
import { misspeltVar } from '../../cli/inventory/var-names.js';

const DIR = join(import.meta.dirname, 'fixtures', 'inventory');
const ROOT = join(import.meta.dirname, '..', '..');

function withFile(name: string, text: string, fn: (f: string) => void): void {
  const d = mkdtempSync(join(tmpdir(), 'fleetnet-inv-'));
  try {
    const f = join(d, name);
    writeFileSync(f, text);
    fn(f);
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}

/** Exit 2 (kind invalid) with a message matching re. */
function refused(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) =>
    e instanceof FleetnetError && e.kind === 'invalid' && re.test(e.message)
      ? true
      : assert.fail(`${String(e)} !~ ${re}`),
  );
}

describe('resolved hosts', () => {
  for (const f of ['fleet.ini', 'fleet.yaml']) {
    it(`${f}: address, user, port and key with Ansible's precedence`, () => {
      const hosts = new Map(loadInventory(join(DIR, f)).map((h) => [h.name, h]));
      assert.deepEqual(
        { ...hosts.get('bastion'), groups: undefined },
        { name: 'bastion', address: '192.0.2.1', user: 'everyone', port: 2200, ovs: false, groups: undefined },
      );
      const web1 = hosts.get('web1')!;
      assert.deepEqual(
        [web1.address, web1.user, web1.port, web1.keyFile],
        ['web1', 'deploy', 22, '/keys/prod'],
        'host var beats dc1, dc1 beats prod and all',
      );
      const dbb = hosts.get('db-b')!;
      assert.deepEqual([dbb.address, dbb.user, dbb.port], ['198.51.100.7', 'dc1user', 5022]);
    });
  }
  it("host:port and [v6]:port set ansible_port; a host's own key file wins", () => {
    const ini = new Map(loadInventory(join(DIR, 'fleet.ini')).map((h) => [h.name, h]));
    assert.deepEqual([ini.get('10.0.0.9')!.port, ini.get('10.0.0.9')!.keyFile], [2222, '/keys/nine']);
    const yml = new Map(loadInventory(join(DIR, 'fleet.yaml')).map((h) => [h.name, h]));
    assert.equal(yml.get('2001:db8::5')!.port, 2022);
  });
  it("--limit keeps Ansible's order and applies unions, then intersections, then exclusions", () => {
    assert.deepEqual(
      loadInventory(join(DIR, 'fleet.ini'), { limit: 'db:web1:!db-b' }).map((h) => h.name),
      ['db-a', 'db-c', 'web1'],
    );
    assert.deepEqual(
      loadInventory(join(DIR, 'fleet.ini'), { limit: 'web*:&prod' })
        .map((h) => h.name)
        .slice(0, 3),
      ['web1', 'web2', 'web3'],
    );
  });
  it('ranges, zero padding and steps; Python literals', () => {
    assert.deepEqual(expandHostRange('n[01:10:4]x[a:b]', 't'), ['n01xa', 'n01xb', 'n05xa', 'n05xb', 'n09xa', 'n09xb']);
    assert.deepEqual(
      [
        parsePythonValue('5'),
        parsePythonValue('True'),
        parsePythonValue("[1, 'a']"),
        parsePythonValue('010'),
        parsePythonValue('a b'),
        parsePythonValue('1.5'),
      ],
      [5, true, [1, 'a'], '010', 'a b', 1.5],
    );
  });
});

describe('bad inventories: exit 2 naming the file and line', () => {
  const cases: [string, string, RegExp][] = [
    ['bad.ini', '[web]\nh1 ansible_host="10.0.0.1\n', /bad\.ini:2: no closing quotation/],
    ['bad.ini', '[web\nh1\n', /bad\.ini:1: invalid section/],
    ['bad.ini', '[web:host]\nh1\n', /bad\.ini:1: section \[web:host\] has unknown type/],
    ['bad.ini', '[web]\nh1 ansible_host\n', /bad\.ini:2: expected key=value host variable, got 'ansible_host'/],
    ['bad.ini', '[g:children]\nnope\n', /bad\.ini:2: .*undefined group 'nope'/],
    ['bad.ini', '[g:vars]\na=1\n', /bad\.ini:1: section \[g:vars\] is for a group that is never defined/],
    ['bad.ini', '[web]\nweb[3:1]\n', /bad\.ini:2: host range 'web\[3:1\]': begin must not be after end/],
    ['bad.ini', '[web]\nweb[01:100]\n', /bad\.ini:2: .*same width/],
    ['bad.ini', '[web]\nh1 ansible_hots=10.0.0.1\n', /bad\.ini:2: unknown variable 'ansible_hots' on host h1/],
    ['bad.ini', '[web]\nh1\n[web:vars]\nansible_usr=x\n', /bad\.ini:4: unknown variable 'ansible_usr' on group web/],
    ['bad.ini', '[web]\nh1 ansible_port=http\n', /bad\.ini:2: ansible_port 'http' of host h1 is not a TCP port/],
    ['bad.ini', '[a:children]\nb\n[b:children]\na\n', /bad\.ini:4: making a a child of b creates a loop/],
    ['bad.yaml', 'all:\n  hosts:\n    h1:\n      ansible_host: [unclosed\n', /bad\.yaml:\d+: /],
    ['bad.yaml', 'all:\n  host:\n    h1:\n', /bad\.yaml:2: 'host' in group all is not hosts, vars or children/],
    [
      'bad.yaml',
      'all:\n  hosts:\n    h1:\n      fleetnet_ovz: true\n',
      /bad\.yaml:4: unknown variable 'fleetnet_ovz' on host h1/,
    ],
    ['bad.yaml', 'all:\n  hosts:\n    h1:\n    h1:\n', /bad\.yaml:\d+: .*[Uu]nique|bad\.yaml:\d+: .*duplicate/i],
    ['bad.yaml', '- h1\n', /bad\.yaml: a YAML inventory is a mapping/],
  ];
  for (const [name, text, re] of cases)
    it(`${JSON.stringify(text)} → ${re}`, () => withFile(name, text, (f) => refused(() => loadInventory(f), re)));
  it("a variable of Ansible's own close to one fleetnet reads is not a typo", () => {
    assert.equal(misspeltVar('ansible_ssh_host'), undefined);
    assert.equal(misspeltVar('http_port'), undefined);
    assert.equal(misspeltVar('ansible_ssh_private_keyfile'), 'ansible_ssh_private_key_file');
  });
});

describe('bad --limit: exit 2 naming the token', () => {
  const f = join(DIR, 'fleet.ini');
  for (const [limit, re] of [
    ['', /--limit is empty/],
    ['web:&', /'&' or '!' without a name/],
    ['~web[', /unbalanced '\['/],
    ['~web(', /'~web\(' is not a valid regular expression/],
    ['webb', /'webb' matches no host or group/],
    ['web:&db', /leaves no host/],
    ['web[0]', /subscripts/],
  ] as const) {
    it(JSON.stringify(limit), () => refused(() => loadInventory(f, { limit }), re));
  }
});

it('the CLI: --list-hosts prints and changes nothing; bad input is exit 2 with the place named', () => {
  const run = (...a: string[]) =>
    spawnSync(process.execPath, [join(ROOT, 'bin', 'fleetnet.cjs'), ...a], {
      encoding: 'utf8',
      env: { ...process.env, FLEETNET_CONTROLLER: '' },
    });
  const ok = run('host', 'add', '--inventory', join(DIR, 'fleet.ini'), '--limit', 'db', '--list-hosts', '--json');
  assert.equal(ok.status, 0, ok.stderr);
  assert.deepEqual(
    (JSON.parse(ok.stdout) as { name: string }[]).map((h) => h.name),
    ['db-a', 'db-b', 'db-c'],
  );
  const bad = run('host', 'add', '--inventory', join(DIR, 'fleet.ini'), '--limit', 'dbx', '--list-hosts');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /'dbx' matches no host or group/);
});

describe('a fix in the format the inventory is written in', () => {
  /** The hint of the exit-2 refusal of loadInventory on this file. */
  const hintOf = (name: string, text: string, re: RegExp): string => {
    let hint = '';
    withFile(name, text, (f) =>
      refused(() => {
        try {
          return loadInventory(f);
        } catch (e) {
          hint = (e as FleetnetError).hint ?? '';
          throw e;
        }
      }, re),
    );
    return hint;
  };
  const cases: [string, string, RegExp, RegExp][] = [
    [
      'h.yaml',
      'all:\n  hosts:\n    h1:\n      ansible_host: [10.0.0.1]\n',
      /:4: ansible_host .* not a string/,
      /^write ansible_host: VALUE$/,
    ],
    ['h.ini', 'h1 ansible_host="[1, 2]"\n', /:1: ansible_host .* not a string/, /^write ansible_host=VALUE$/],
    ['h.yaml', 'all:\n  hosts:\n    h1:\n      fleetnet_ovs: maybe\n', /:4: fleetnet_ovs/, /fleetnet_ovs: true/],
    ['h.ini', 'h1 fleetnet_ovs=maybe\n', /:1: fleetnet_ovs/, /fleetnet_ovs=True/],
    [
      'h.yaml',
      'all:\n  hosts:\n    h1 ansible_host=10.0.0.1:\n',
      /:3: 'h1 ansible_host=10\.0\.0\.1' is not a host name/,
      /h1: \{ansible_host: 10\.0\.0\.1\}/,
    ],
    [
      'h.yaml',
      'all:\n  hosts:\n    - h1\n',
      /:3: hosts of group all must be a mapping/,
      /as keys \(web1:\), not as a list/,
    ],
    ['h.yaml', 'all:\n  vars:\n    x: 1\n', /lists no hosts/, /under hosts: of a group/],
    [
      'hosts',
      'all:\n  hosts:\n    h1:\n',
      /hosts:1: 'all:' is YAML, but hosts is read as an INI inventory/,
      /rename it to hosts\.yml/,
    ],
    [
      'h.yml',
      '# fleet\n[web]\nh1\n',
      /h\.yml:2: '\[web\]' is an INI section, but h\.yml is read as a YAML/,
      /rename it to h\.ini/,
    ],
  ];
  for (const [name, text, re, hint] of cases)
    it(`${name} ${JSON.stringify(text)}`, () => assert.match(hintOf(name, text, re), hint));
});

describe('what a bootstrap acts on is checked when the inventory is read (exit 2, file and line)', () => {
  const cases: [string, RegExp][] = [
    ['h1 fleetnet_listen=nonsense\n', /:1: fleetnet_listen of host h1: agent address 'nonsense' is not/],
    ['h1 fleetnet_listen=10.0.0.1:99999\n', /:1: fleetnet_listen of host h1: port 99999 .* out of range/],
    ['h1 fleetnet_controller="a b"\n', /:1: fleetnet_controller of host h1: controller address 'a b'/],
    [
      'h1\n[all:vars]\nansible_host=-oProxy\n',
      /:3: ansible_host of host h1: '-oProxy' is not an IP address or a host name/,
    ],
    ['h1 ansible_user="root;x"\n', /:1: ansible_user of host h1: 'root;x' is not a user name/],
  ];
  for (const [text, re] of cases)
    it(JSON.stringify(text), () => withFile('h.ini', text, (f) => refused(() => loadInventory(f), re)));
  it('fleetnet_listen is the agent address as registered: port 7441 when none is given', () =>
    withFile('h.ini', 'h1 fleetnet_listen=10.0.0.1\nh2 fleetnet_listen=[fd00::2]:7500\n', (f) =>
      assert.deepEqual(
        loadInventory(f).map((h) => h.listen),
        ['10.0.0.1:7441', '[fd00::2]:7500'],
      ),
    ));
});

it('host add over SSH: what the controller would refuse at the end is exit 2 before any connection', () => {
  const d = mkdtempSync(join(tmpdir(), 'fleetnet-inv-'));
  const inv = (name: string, text: string) => (writeFileSync(join(d, name), text), join(d, name));
  const add = (...a: string[]) =>
    spawnSync(process.execPath, [join(ROOT, 'bin', 'fleetnet.cjs'), 'host', 'add', ...a], {
      encoding: 'utf8',
      // nothing listens there: an input that got as far as a connection would say so, and exit 1
      env: { ...process.env, FLEETNET_CONTROLLER: '127.0.0.1:1' },
    });
  try {
    for (const [args, re] of [
      [['--inventory', inv('dns.ini', 'web1.example.com\n')], /host web1\.example\.com: it is reached over SSH as/],
      [['--inventory', inv('dns.yml', 'all: {hosts: {web1.example.com: }}\n')], /fleetnet_listen: IP:7441 for web1/],
      [['--inventory', inv('v6.ini', 'h3 ansible_host=fd00::3\n')], /host h3: neither its SSH address nor/],
      [
        ['--inventory', inv('key.ini', 'h2 ansible_ssh_private_key_file=/nonexistent\n')],
        /key\.ini: .* cannot be read/,
      ],
      [
        ['--inventory', inv('ok.ini', 'h1 ansible_host=10.0.0.1\n'), '--listen', '10.0.0.1:7441'],
        /--listen is one agent/,
      ],
      [['h1', '--ssh', 'root@web1.example'], /give the agent's IPv4 address: --listen IP:7441/],
      [['h1', '--ssh', 'root@10.0.0.1', '--listen', '10.0.0.1:x'], /--listen 10\.0\.0\.1:x: port 'x'/],
      [['h1', '--ssh', 'root@10.0.0.1', '--identity', '/nonexistent'], /--identity: \/nonexistent cannot be read/],
      [['h1', '--ssh', 'root@10.0.0.1', '--advertise', 'a b'], /controller address 'a b' \(from --advertise\)/],
    ] as const) {
      const r = add(...args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}${r.stdout}`);
      assert.match(r.stderr + r.stdout, re, args.join(' '));
      assert.doesNotMatch(r.stderr + r.stdout, /connect|controller answers/, 'nothing was contacted');
    }
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
});
