// How the CLI finds the controller: --controller, FLEETNET_CONTROLLER, the config file, or none.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { chooseController, requireController } from '../../cli/client/controller-address.js';
import { FleetnetError } from '../../common/errors.js';

test('controller address: flag, then env, then config file, else the local agent', (t) => {
  const home = mkdtempSync(join(tmpdir(), 'fleetnet-cfg-'));
  t.after(() => rmSync(home, { recursive: true, force: true }));
  const env = { HOME: home } as NodeJS.ProcessEnv;
  assert.equal(chooseController({}, env), undefined);
  mkdirSync(join(home, '.config', 'fleetnet'), { recursive: true });
  writeFileSync(join(home, '.config', 'fleetnet', 'config.yaml'), '# fleetnet\ncontroller: "10.99.0.2"  # the lab\n');
  assert.equal(chooseController({}, env)?.addr, '10.99.0.2:7440');
  assert.equal(chooseController({}, { ...env, FLEETNET_CONTROLLER: 'ctl.example:9000' })?.addr, 'ctl.example:9000');
  assert.equal(chooseController({ controller: '[fd00::2]:7440' }, { ...env, FLEETNET_CONTROLLER: 'x' })?.addr, '[fd00::2]:7440');
  assert.equal(chooseController({ controller: '127.0.0.1:1', local: true }, env), undefined);
  assert.throws(() => chooseController({ controller: 'a b' }, env), (e: FleetnetError) => e.kind === 'invalid');
  assert.throws(() => requireController({ local: true }, 'net ls'), (e: FleetnetError) => e.kind === 'invalid');
});
