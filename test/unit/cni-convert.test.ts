// The agent's CNI answer: a refused call becomes the spec's code and message, and its log line keeps the error
// under its own key (pino's msg was written twice, and a JSON reader kept only "cni call refused").
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import pino from 'pino';
import { answerCni } from '../../agent/service/cni-convert.js';
import type { CniHandler } from '../../cni/handler.js';
import { notFound } from '../../common/errors.js';

test('a refused CNI call: code and message in the reply, the error under err in one log line', async () => {
  const lines: string[] = [];
  const sink = new Writable({ write: (c: Buffer, _e, done) => done(void lines.push(c.toString())) });
  const log = pino({ level: 'info' }, sink);
  const h = { handle: async () => Promise.reject(notFound('no such namespace /run/netns/x')) };
  const r = await answerCni(
    h as unknown as CniHandler,
    { command: 'ADD', containerId: 'c1', ifname: 'eth0' } as never,
    log,
  );
  assert.equal(r.code, 3);
  assert.equal(r.msg, 'no such namespace /run/netns/x');
  await new Promise((resolve) => setImmediate(resolve));
  const rec = JSON.parse(lines[0]!) as Record<string, unknown>;
  assert.equal(rec.msg, 'cni call refused');
  assert.equal(rec.err, 'no such namespace /run/netns/x');
  assert.equal(lines[0]!.match(/"msg":/g)?.length, 1, 'one msg key');
});
