// How the CLI finds the controller: --controller, FLEETNET_CONTROLLER, the settings file (a
// context: --context, FLEETNET_CONTEXT, current-context; or the one-line `controller:`), or none;
// and `fleetnet config` over that file, with every kind of mistake refused naming FILE:LINE.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { chooseController, requireController } from '../../cli/client/controller-address.js';
import { FleetnetError } from '../../common/errors.js';
import { ExecRunner } from '../../common/runner.js';

function home(t: { after(fn: () => unknown): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'fleetnet-cfg-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, '.config', 'fleetnet', 'config.yaml');
  mkdirSync(join(dir, '.config', 'fleetnet'), { recursive: true });
  return { dir, file, env: { HOME: dir } as NodeJS.ProcessEnv };
}

const CONTEXTS = `# two fleets
current-context: prod
contexts:
  prod:
    controllers: [10.0.0.2:7440, 10.0.0.3]
    description: production
  lab:
    controllers:
      - 10.99.0.2:7440
`;

test('controller address: flag, then env, then config file, else the local agent', async (t) => {
  const { file, env } = home(t);
  assert.equal(await chooseController({}, env), undefined);
  writeFileSync(file, '# fleetnet\ncontroller: "10.99.0.2"  # the lab\n');
  assert.equal((await chooseController({}, env))?.addr, '10.99.0.2:7440');
  assert.equal(
    (await chooseController({}, { ...env, FLEETNET_CONTROLLER: 'ctl.example:9000' }))?.addr,
    'ctl.example:9000',
  );
  assert.equal(
    (await chooseController({ controller: '[fd00::2]:7440' }, { ...env, FLEETNET_CONTROLLER: 'x' }))?.addr,
    '[fd00::2]:7440',
  );
  assert.equal(await chooseController({ controller: '127.0.0.1:1', local: true }, env), undefined);
  await assert.rejects(chooseController({ controller: 'a b' }, env), (e: FleetnetError) => e.kind === 'invalid');
  await assert.rejects(requireController({ local: true }, 'net ls'), (e: FleetnetError) => e.kind === 'invalid');
});

test(
  'contexts: current-context, --context and FLEETNET_CONTEXT choose; ' + '--config and FLEETNET_CONFIG name the file',
  async (t) => {
    const { dir, file, env } = home(t);
    writeFileSync(file, CONTEXTS);
    const cur = await chooseController({}, env);
    assert.deepEqual(cur?.addrs, ['10.0.0.2:7440', '10.0.0.3:7440']);
    assert.match(cur!.from, /context prod/);
    assert.deepEqual((await chooseController({ context: 'lab' }, env))?.addrs, ['10.99.0.2:7440']);
    assert.deepEqual((await chooseController({}, { ...env, FLEETNET_CONTEXT: 'lab' }))?.addrs, ['10.99.0.2:7440']);
    assert.deepEqual(
      (await chooseController({ controller: '10.5.5.5' }, env))?.addrs,
      ['10.5.5.5:7440'],
      'a flag beats the file',
    );
    await assert.rejects(
      chooseController({ context: 'nope' }, env),
      (e: FleetnetError) => /context 'nope'.*is not in/.test(e.message) && /prod, lab/.test(e.hint ?? ''),
    );
    const other = join(dir, 'other.yaml');
    writeFileSync(other, 'contexts:\n  x:\n    controllers: [10.7.0.1:7440]\ncurrent-context: x\n');
    assert.deepEqual((await chooseController({ config: other }, env))?.addrs, ['10.7.0.1:7440']);
    assert.deepEqual((await chooseController({}, { ...env, FLEETNET_CONFIG: other }))?.addrs, ['10.7.0.1:7440']);
    await assert.rejects(chooseController({ config: join(dir, 'missing.yaml') }, env), /does not exist/);
  },
);

test('settings file mistakes: FILE:LINE, the key, the fix', async (t) => {
  const { file, env } = home(t);
  const cases: [string, RegExp][] = [
    [
      'contexts:\n  prod:\n    controllers: [10.0.0.2:7440]\n    controler: x\n',
      /config\.yaml:4: unknown key 'controler' under contexts\.prod/,
    ],
    [
      'current-context: prod\ncontexts:\n  lab:\n    controllers: [10.99.0.2]\n',
      /config\.yaml:1: key 'current-context': names no context \(known: lab\)/,
    ],
    ['contexts:\n  prod:\n    controllers: 10.0.0.2\n', /config\.yaml:3: key 'contexts\.prod\.controllers'/],
    ['contexts:\n  prod:\n    controllers: [not an address]\n', /contexts\.prod\.controllers/],
    ['contexts: [\n', /config\.yaml:\d+: not valid YAML/],
    [
      'current-context: a\ncontroller: 10.0.0.9\ncontexts:\n  a:\n    controllers: [10.0.0.2]\n',
      /config\.yaml:2: key 'controller': and current-context both/,
    ],
    ['curent-context: a\n', /unknown key 'curent-context'/],
  ];
  for (const [text, re] of cases) {
    writeFileSync(file, text);
    await assert.rejects(
      chooseController({}, env),
      (e: FleetnetError) => {
        assert.equal(e.kind, 'invalid');
        assert.match(e.message, re);
        assert.ok(e.hint, 'a fix is given');
        return true;
      },
      text,
    );
  }
});

test('fleetnet config view / use-context / current-context, and exit 2 for a bad file', async (t) => {
  const { file, dir } = home(t);
  writeFileSync(file, `${CONTEXTS}# keep me\n`);
  const env = { ...process.env, HOME: dir, FLEETNET_CONTROLLER: '', FLEETNET_CONTEXT: '', FLEETNET_CONFIG: '' };
  const fleetnet = (...args: string[]) =>
    new ExecRunner().run(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], { allowFail: true, env });
  const v = await fleetnet('config', 'view');
  assert.equal(v.code, 0, v.stderr);
  assert.match(v.stdout, /controller in use: 10\.0\.0\.2:7440,10\.0\.0\.3:7440 \(from .*context prod\)/);
  assert.match(v.stdout, /\*\s+prod\s+10\.0\.0\.2:7440,10\.0\.0\.3\s+production/);
  const j = JSON.parse((await fleetnet('config', 'view', '--json')).stdout) as {
    currentContext: string;
    contexts: { name: string }[];
  };
  assert.equal(j.currentContext, 'prod');
  assert.deepEqual(
    j.contexts.map((c) => c.name),
    ['prod', 'lab'],
  );
  const u = await fleetnet('config', 'use-context', 'lab');
  assert.equal(u.code, 0, u.stderr);
  assert.match(readFileSync(file, 'utf8'), /^current-context: lab$/m);
  assert.match(readFileSync(file, 'utf8'), /# keep me/);
  assert.equal((await fleetnet('config', 'current-context')).stdout, 'lab\n');
  assert.equal((await fleetnet('--context', 'prod', 'config', 'view', '-q')).stdout, 'prod\nlab\n');
  const bad = await fleetnet('config', 'use-context', 'nope');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /context 'nope' is not in/);
  writeFileSync(file, 'contexts:\n  prod:\n    controlers: [x]\n');
  const broken = await fleetnet('net', 'ls');
  assert.equal(broken.code, 2);
  assert.match(broken.stderr, /config\.yaml:3: unknown key 'controlers'/);
});

test('config use-context changes the current-context line and leaves the rest of the file as written', async (t) => {
  const { useContext } = await import('../../cli/client/cli-config.js');
  const { file } = home(t);
  const long = 'the lab, with a description longer than the eighty columns a YAML printer folds lines at';
  const body =
    'contexts:   # fleets\n' +
    '    prod: {controllers: [10.0.0.2:7440, 10.0.0.3:7440], description: "production fleet, east and west"}\n' +
    `    lab:\n        controllers: [10.99.0.2:7440]\n        description: '${long}'\n` +
    '    "true": {controllers: [10.98.0.2]}\n';
  const cases: [string, string, string][] = [
    // [file, context, what the file is then]
    [
      `# mine\ncurrent-context: prod   # as I like it\n${body}`,
      'lab',
      `# mine\ncurrent-context: lab   # as I like it\n${body}`,
    ],
    [`current-context: 'prod'\n${body}`, 'lab', `current-context: 'lab'\n${body}`],
    [`# mine\n${body}`, 'true', `# mine\ncurrent-context: "true"\n${body}`],
  ];
  for (const [before, name, after] of cases) {
    writeFileSync(file, before);
    useContext(file, name);
    assert.equal(readFileSync(file, 'utf8'), after);
  }
  // what the CLI would then refuse (a controller: line beside a context) is not written
  const both = `controller: 10.0.0.9\n${body}`;
  writeFileSync(file, both);
  assert.throws(() => useContext(file, 'lab'), /key 'controller': and current-context both choose/);
  assert.equal(readFileSync(file, 'utf8'), both);
});
