// The bootstrap progress view: live lines on a terminal, one plain line per event elsewhere.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { progressView } from '../../cli/output/progress.js';

function stream(isTTY: boolean) {
  const out: string[] = [];
  return { out, s: { isTTY, columns: 100, write: (x: string) => (out.push(x), true) } as unknown as NodeJS.WriteStream };
}

test('not a terminal: one line per event, with the detail', () => {
  const { out, s } = stream(false);
  const v = progressView(['h1'], s);
  v.on({ host: 'h1', step: 'connect', state: 'start' });
  v.on({ host: 'h1', step: 'connect', state: 'done', detail: 'host key verified SHA256:x' });
  v.on({ host: 'h1', step: 'check', state: 'failed', detail: 'h1 lacks: iproute2' });
  v.end();
  assert.deepEqual(out, ['h1: connect started\n', 'h1: connect done — host key verified SHA256:x\n', 'h1: check failed — h1 lacks: iproute2\n']);
});

test('terminal: one line per host, redrawn in place with a step bar', () => {
  const { out, s } = stream(true);
  const v = progressView(['h1', 'h22'], s);
  v.on({ host: 'h22', step: 'upload', state: 'done', detail: 'agent bundle' });
  const last = out.slice(-3);
  assert.equal(last[0], '\x1b[2A', 'moves up over the two host lines');
  assert.equal(last[1], '\x1b[2Kh1   [......] … connect waiting\n');
  assert.equal(last[2], '\x1b[2Kh22  [###...] ✓ upload agent bundle\n');
});
