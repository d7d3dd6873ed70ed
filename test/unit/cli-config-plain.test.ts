// The CLI's settings file read without zod (cli/client/cli-config-plain.ts) gives what the zod schema
// (cli/client/cli-config.ts) gives for every file it takes, and takes nothing the schema refuses; what it
// does not take, the schema judges (and explains).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { plainCliConfig } from '../../cli/client/cli-config-plain.js';
import { readCliConfig } from '../../cli/client/cli-config.js';

const FILES: readonly string[] = [
  '',
  '# only a comment\n',
  'controller: 10.0.0.2:7440\n',
  'controller: "10.0.0.2"\n',
  'current-context: prod\ncontexts:\n  prod:\n    controllers: [10.0.0.2:7440, 10.0.0.3]\n' +
    '    description: production\n',
  'contexts:\n  lab:\n    controllers:\n      - 10.99.0.2:7440\n  prod.eu_1:\n    controllers: [a:1]\n',
  'contexts: {}\n',
  'contexts:\n  lab:\n    controllers: [10.99.0.2]\ncontroller: 10.0.0.9\n',
  // refused by the schema
  'controller: ""\n',
  'controller: 7440\n',
  'controler: 10.0.0.2\n',
  'current-context: prod\n',
  'current-context: prod\ncontexts:\n  lab:\n    controllers: [a:1]\n',
  'current-context: lab\ncontroller: b:1\ncontexts:\n  lab:\n    controllers: [a:1]\n',
  'current-context: 5\ncontexts:\n  "5":\n    controllers: [a:1]\n',
  'contexts:\n  lab:\n    controllers: []\n',
  'contexts:\n  lab:\n    controllers: [""]\n',
  'contexts:\n  lab:\n    controllers: a:1\n',
  'contexts:\n  lab:\n    controllers: [1]\n',
  'contexts:\n  lab:\n    controllers: [a:1]\n    extra: 1\n',
  'contexts:\n  lab:\n    controllers: [a:1]\n    description: 3\n',
  'contexts:\n  -lab:\n    controllers: [a:1]\n',
  // accepted by the schema, left to it (the key becomes the object's prototype)
  'contexts:\n  __proto__:\n    controllers: [a:1]\n',
  'contexts:\n  lab: null\n',
  'contexts: [a]\n',
  'contexts: null\n',
  '- a\n- b\n',
  'just text\n',
  'a: [\n',
  'controller: a\ncontroller: b\n',
];

test('a settings file read without zod: the same settings as the schema, and nothing it refuses', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fleetnet-cfgplain-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  let taken = 0;
  FILES.forEach((text, i) => {
    const path = join(dir, `c${i}.yaml`);
    writeFileSync(path, text);
    let schema: unknown;
    try {
      schema = readCliConfig(path);
    } catch (err) {
      schema = err;
    }
    const plain = plainCliConfig(text, path);
    if (schema instanceof Error) assert.equal(plain, undefined, `the schema refuses ${JSON.stringify(text)}`);
    else if (plain !== undefined) {
      assert.deepEqual(plain, schema, `the same settings from ${JSON.stringify(text)}`);
      taken++;
    }
  });
  assert.equal(taken, 8, 'the plainly right files are taken without zod');
});
