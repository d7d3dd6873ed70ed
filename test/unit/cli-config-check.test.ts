// The CLI's settings file has one checker (cli/client/cli-config-check.ts): what it takes, and for everything
// else the FILE:LINE message naming the key.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCliConfig, type CliConfig } from '../../cli/client/cli-config-check.js';
import { FleetnetError } from '../../common/errors.js';

const F = '/home/u/.config/fleetnet/config.yaml';
const ok = (v: Omit<CliConfig, 'path' | 'contexts'> & Partial<CliConfig>): CliConfig => ({
  path: F,
  contexts: {},
  ...v,
});

const TAKEN: [string, CliConfig][] = [
  ['', ok({})],
  ['# only a comment\n', ok({})],
  ['controller: 10.0.0.2:7440\n', ok({ controller: '10.0.0.2:7440' })],
  ['controller: "10.0.0.2"\n', ok({ controller: '10.0.0.2' })],
  [
    'current-context: prod\ncontexts:\n  prod:\n    controllers: [10.0.0.2:7440, 10.0.0.3]\n' +
      '    description: production\n',
    ok({
      currentContext: 'prod',
      contexts: { prod: { controllers: ['10.0.0.2:7440', '10.0.0.3'], description: 'production' } },
    }),
  ],
  [
    'contexts:\n  lab:\n    controllers:\n      - 10.99.0.2:7440\n  prod.eu_1:\n    controllers: [a:1]\n',
    ok({ contexts: { lab: { controllers: ['10.99.0.2:7440'] }, 'prod.eu_1': { controllers: ['a:1'] } } }),
  ],
  ['contexts: {}\n', ok({})],
  ['contexts:\n', ok({})],
  [
    'contexts:\n  lab:\n    controllers: [10.99.0.2]\ncontroller: 10.0.0.9\n',
    ok({ contexts: { lab: { controllers: ['10.99.0.2'] } }, controller: '10.0.0.9' }),
  ],
];

const REFUSED: [string, RegExp][] = [
  ['controller: ""\n', /:1: key 'controller': must be one controller ADDR:PORT$/],
  ['controller: 7440\n', /:1: key 'controller': must be one controller/],
  ['controler: 10.0.0.2\n', /:1: unknown key 'controler'$/],
  ['current-context: prod\n', /:1: key 'current-context': names no context \(the file has no contexts:\)/],
  ['current-context: prod\ncontexts:\n  lab:\n    controllers: [a:1]\n', /:1: .*names no context \(known: lab\)/],
  ['current-context: lab\ncontroller: b:1\ncontexts:\n  lab:\n    controllers: [a:1]\n', /:2: key 'controller': and/],
  ['current-context: 5\ncontexts:\n  "5":\n    controllers: [a:1]\n', /:1: key 'current-context': must be/],
  ['contexts:\n  lab:\n    controllers: []\n', /:3: key 'contexts\.lab\.controllers': must be a list/],
  ['contexts:\n  lab:\n    controllers: [""]\n', /:3: key 'contexts\.lab\.controllers'/],
  ['contexts:\n  lab:\n    controllers: a:1\n', /:3: key 'contexts\.lab\.controllers'/],
  ['contexts:\n  lab:\n    controllers: [1]\n', /:3: key 'contexts\.lab\.controllers'/],
  ['contexts:\n  lab:\n    description: x\n', /:3: key 'contexts\.lab\.controllers' is missing/],
  ['contexts:\n  lab:\n    controllers: [a:1]\n    extra: 1\n', /:4: unknown key 'extra' under contexts\.lab/],
  ['contexts:\n  lab:\n    controllers: [a:1]\n    description: 3\n', /:4: key 'contexts\.lab\.description'/],
  ['contexts:\n  -lab:\n    controllers: [a:1]\n', /:2: key 'contexts\.-lab': a context name is/],
  ['contexts:\n  __proto__:\n    controllers: [a:1]\n', /:2: key 'contexts\.__proto__': a context name is/],
  ['contexts:\n  lab: null\n', /:2: key 'contexts\.lab': must be a mapping/],
  ['contexts: [a]\n', /:1: key 'contexts': must be a mapping/],
  ['- a\n- b\n', /:1: the file must be a mapping/],
  ['just text\n', /:1: the file must be a mapping/],
  ['a: [\n', /:\d+: not valid YAML/],
  ['controller: a\ncontroller: b\n', /:2: not valid YAML/],
];

test('the settings file: what the one checker takes', () => {
  for (const [text, want] of TAKEN) assert.deepEqual(parseCliConfig(text, F), want, JSON.stringify(text));
});

test('the settings file: every mistake as FILE:LINE with the key and a fix (exit 2)', () => {
  for (const [text, re] of REFUSED) {
    assert.throws(
      () => parseCliConfig(text, F),
      (e: FleetnetError) => {
        assert.equal(e.kind, 'invalid', JSON.stringify(text));
        assert.match(e.message, new RegExp(`^${F.replaceAll('.', '\\.')}${re.source}`), JSON.stringify(text));
        assert.ok(e.hint, `a fix is given for ${JSON.stringify(text)}`);
        assert.doesNotMatch(e.hint, /\bsee see\b/, 'the pointer to the README reads once');
        return true;
      },
      JSON.stringify(text),
    );
  }
});

test('the settings file: a controller address that is not one is named with its key', () => {
  assert.throws(
    () => parseCliConfig('contexts:\n  lab:\n    controllers: [not an address]\n', F),
    (e: FleetnetError) =>
      e.kind === 'invalid' && /'not an address' \(from .*config\.yaml: contexts\.lab\.controllers\)/.test(e.message),
  );
});
