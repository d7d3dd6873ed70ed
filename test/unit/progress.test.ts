// The bootstrap progress view: live lines on a terminal, one plain line per event elsewhere.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { progressView, waitView } from '../../cli/output/progress.js';

function stream(isTTY: boolean) {
  const out: string[] = [];
  return {
    out,
    s: { isTTY, columns: 100, write: (x: string) => (out.push(x), true) } as unknown as NodeJS.WriteStream,
  };
}

test('not a terminal: one line per event, with the detail', () => {
  const { out, s } = stream(false);
  const v = progressView(['h1'], s);
  v.on({ host: 'h1', step: 'connect', state: 'start' });
  v.on({ host: 'h1', step: 'connect', state: 'done', detail: 'host key verified SHA256:x' });
  v.on({ host: 'h1', step: 'check', state: 'failed', detail: 'h1 lacks: iproute2' });
  v.end();
  assert.deepEqual(out, [
    'h1: connect started\n',
    'h1: connect done — host key verified SHA256:x\n',
    'h1: check failed — h1 lacks: iproute2\n',
  ]);
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

test(
  'waitView (mesh add): one line at the start and one at the end off a terminal; ' +
    'a spinner redrawn in place on one',
  () => {
    let t = 1000;
    const plain = stream(false);
    const v = waitView('adding h3 to the mesh of blue', plain.s, () => t);
    t += 2500;
    v.end('2 member(s) converged');
    assert.deepEqual(plain.out, [
      'adding h3 to the mesh of blue…\n',
      'adding h3 to the mesh of blue: 2 member(s) converged (2.5s)\n',
    ]);
    const tty = stream(true);
    const w = waitView('adding h3', tty.s, () => t);
    t += 300;
    w.end('failed');
    assert.equal(tty.out[0], '\r\x1b[2K| adding h3… 0s');
    assert.equal(tty.out.at(-1), '\r\x1b[2Kadding h3: failed (0.3s)\n');
    // refused at once (exit 2): no last line; the spinner is erased
    const refused = stream(true);
    waitView('adding hz', refused.s, () => t).drop();
    assert.equal(refused.out.at(-1), '\r\x1b[2K');
    const plainRefused = stream(false);
    waitView('adding hz', plainRefused.s, () => t).drop();
    assert.deepEqual(plainRefused.out, ['adding hz…\n']);
  },
);
