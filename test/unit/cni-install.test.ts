// `fleetnet cni install`'s conflist: the cniVersion runtimes read (1.0.0 unless --cni-version asks for another the
// plugin speaks); an unknown one is bad input, and nothing is written.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { installCni } from '../../cni/install.js';
import { FleetnetError } from '../../common/errors.js';

test('cni install writes cniVersion 1.0.0 (podman 4.3 reads no newer), --cni-version 1.1.0 when asked', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fn-cni-install-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const o = {
    binDir: join(dir, 'bin'),
    confDir: join(dir, 'conf'),
    bundle: join(import.meta.dirname, '..', '..', 'package.json'), // any file: the launcher only names it
    node: process.execPath,
    native: join(dir, 'no-native-plugin'),
    nodePlugin: true,
    network: 'blue',
    kind: 'bridge' as const,
    enable: true,
  };
  const version = (f: string) => (JSON.parse(readFileSync(f, 'utf8')) as { cniVersion: string }).cniVersion;
  assert.equal(version(installCni(o).conflist), '1.0.0');
  assert.equal(version(installCni({ ...o, cniVersion: '1.1.0' }).conflist), '1.1.0');
  rmSync(join(dir, 'conf'), { recursive: true });
  assert.throws(
    () => installCni({ ...o, cniVersion: '2.0.0' }),
    (e: unknown) => e instanceof FleetnetError && e.kind === 'invalid' && /use 0\.4\.0, 1\.0\.0, 1\.1\.0/.test(e.hint!),
  );
  assert.equal(existsSync(join(dir, 'conf')), false, 'nothing written');
});
