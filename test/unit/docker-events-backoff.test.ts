// The Docker event stream's tries again: while dockerd refuses, they back off (1 s, doubling, at most
// 10 s by default) instead of knocking every second for as long as it is away; once a stream opens the
// wait starts over, so a dockerd restart is heard again after 1 s.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { mock, test } from 'node:test';
import type Docker from 'dockerode';
import { silentLogger } from '../../common/logger.js';
import { watchContainerEvents } from '../../agent/dhcp/docker-events.js';

/** A dockerd that refuses while `up` is false; each try's time (mocked clock) is kept. */
function fakeDocker() {
  const f = { up: false, tries: [] as number[], streams: [] as PassThrough[] };
  const d = {
    getEvents: async () => {
      f.tries.push(Date.now());
      if (!f.up) throw Object.assign(new Error('connect ECONNREFUSED /var/run/docker.sock'), { code: 'ECONNREFUSED' });
      const s = new PassThrough();
      f.streams.push(s);
      return s;
    },
  } as unknown as Docker;
  return { f, d };
}

const settle = () => new Promise<void>((r) => setImmediate(r));

async function advance(ms: number): Promise<void> {
  for (let t = 0; t < ms; t += 500) {
    mock.timers.tick(500);
    await settle();
  }
}

test('refused tries back off to the cap; an opened stream resets the wait; close stops the tries', async (t) => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  t.after(() => mock.timers.reset());
  const { f, d } = fakeDocker();
  let connects = 0;
  const w = watchContainerEvents(() => d, { onEvent: () => undefined, onConnect: () => connects++ }, silentLogger());
  await settle();
  await advance(40_000);
  assert.deepEqual(f.tries, [0, 1000, 3000, 7000, 15_000, 25_000, 35_000], 'waits of 1, 2, 4, 8, then 10 s');

  f.up = true;
  await advance(10_000);
  assert.equal(connects, 1, 'the stream opens at the next try');
  const before = f.tries.length;
  f.up = false;
  const lostAt = Date.now();
  f.streams[0]!.end(); // dockerd restarted: the stream ends
  await settle();
  await advance(4000);
  assert.deepEqual(
    f.tries.slice(before).map((x) => x - lostAt),
    [1000, 3000],
    'after a lost stream the tries start over at 1 s',
  );

  w.close();
  const n = f.tries.length;
  await advance(60_000);
  assert.equal(f.tries.length, n, 'no try after close');
});

test('the first wait and the cap can be set; a cap below the first wait is the first wait', async (t) => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 0 });
  t.after(() => mock.timers.reset());
  const { f, d } = fakeDocker();
  const w = watchContainerEvents(() => d, { onEvent: () => undefined }, silentLogger(), {
    retryMs: 2000,
    maxRetryMs: 500,
  });
  await settle();
  await advance(7000);
  w.close();
  assert.deepEqual(f.tries, [0, 2000, 4000, 6000]);
});
