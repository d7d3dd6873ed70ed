// The supervised agent's log (hosts without systemd): rotated by size, N files kept, reopened on demand.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { RotatingLog } from '../../agent/rotating-log.js';

test('rotates before passing maxBytes and keeps the newest files', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fleetnet-log-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'agent.log');
  const log = new RotatingLog({ path, maxBytes: 20, keep: 2 });
  for (const l of [
    'line-0001\n',
    'line-0002\n',
    'line-0003\n',
    'line-0004\n',
    'line-0005\n',
    'line-0006\n',
    'line-0007\n',
  ])
    log.write(l);
  log.close();
  assert.equal(readFileSync(path, 'utf8'), 'line-0007\n');
  assert.equal(readFileSync(`${path}.1`, 'utf8'), 'line-0005\nline-0006\n');
  assert.equal(readFileSync(`${path}.2`, 'utf8'), 'line-0003\nline-0004\n');
  assert.equal(existsSync(`${path}.3`), false); // the oldest dropped off
});

test('an existing file counts; reopen() after an outside move starts a new file', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fleetnet-log-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'agent.log');
  const a = new RotatingLog({ path, maxBytes: 15 });
  a.write('0123456789\n');
  a.close();
  const b = new RotatingLog({ path, maxBytes: 15 });
  b.write('abcdefghij\n'); // 11 + 11 > 15: rotates first
  assert.equal(readFileSync(`${path}.1`, 'utf8'), '0123456789\n');
  renameSync(path, `${path}.moved`);
  b.reopen();
  b.write('x\n');
  b.close();
  assert.equal(readFileSync(path, 'utf8'), 'x\n');
  assert.equal(readFileSync(`${path}.moved`, 'utf8'), 'abcdefghij\n');
});
