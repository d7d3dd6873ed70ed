// The CLI's gRPC client with several addresses (controllers): the first that connects, and a call moved on to
// the next only when resending it is harmless; against plain node:http2 servers on unix sockets.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { FleetnetError } from '../../common/errors.js';
import { GrpcH2Client } from '../../cli/client/grpc-h2.js';
import { fakeServer } from './grpc-h2-fixture.js';

/** A read (harmless to resend) and a write (resent only with a request id), answered with the server's name. */
const READ = {
  path: '/t.S/Read',
  encode: () => new Uint8Array(0),
  decode: (b: Uint8Array) => Buffer.from(b).toString(),
  idempotent: true,
};
const WRITE = {
  ...READ,
  path: '/t.S/Write',
  encode: (_r: { requestId?: string }) => new Uint8Array(0),
  idempotent: false,
};

/** A server of `mode` named `name` and a `good` one in a new directory; all gone after the test. */
async function firstAndGood(t: TestContext, name: string, mode: 'answer' | 'drop' | 'half') {
  const dir = mkdtempSync(join(tmpdir(), `fn-grpc-h2-${name}-`));
  const first = await fakeServer(dir, name, mode);
  const good = await fakeServer(dir, 'good', 'answer');
  t.after(() => {
    first.close();
    good.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { dir, first, good };
}

test(
  'GrpcH2Client with several addresses: the first that connects; ' +
    'a dropped call moves on only when resending is harmless',
  async (t) => {
    const { dir, first: dropper, good } = await firstAndGood(t, 'dropper', 'drop');
    const nobody = `unix://${join(dir, 'nobody.sock')}`;
    const [read, write] = [READ, WRITE];

    // nobody listens at the first address: the request was never sent, so any call moves on
    const c1 = new GrpcH2Client([nobody, good.addr], 'the controllers');
    assert.equal(await c1.unary(write, {}, 5000), 'good');
    assert.equal(await c1.unary(read, {}, 5000), 'good', 'the live connection is kept');
    c1.close();

    // the first accepts and drops the call: a read moves on, a write without a request id does not
    const c2 = new GrpcH2Client([dropper.addr, good.addr], 'the controllers');
    assert.equal(await c2.unary(read, {}, 5000), 'good');
    c2.close();
    const c3 = new GrpcH2Client([dropper.addr, good.addr], 'the controllers', {
      unavailable: (cause) => new FleetnetError('unavailable', 'gone', { cause }),
    });
    await assert.rejects(
      c3.unary(write, {}, 5000),
      (e: unknown) => e instanceof FleetnetError && e.kind === 'unavailable',
    );
    assert.deepEqual(
      good.calls.filter((p) => p === '/t.S/Write'),
      ['/t.S/Write'],
      "only the first client's write reached the good server",
    );
    // with a request id, the controller applies it once however often it arrives: it moves on
    assert.equal(await c3.unary(write, { requestId: 'r-1' }, 5000), 'good');
    c3.close();
  },
);

test('GrpcH2Client: a unary reply from a peer that died before its status: resent when harmless', async (t) => {
  const { first: half, good } = await firstAndGood(t, 'half', 'half');
  const [read, write] = [READ, { ...READ, path: '/t.S/Write', idempotent: false }];
  const gone = { unavailable: (cause: unknown) => new FleetnetError('unavailable', 'gone', { cause }) };
  const c = new GrpcH2Client([half.addr, good.addr], 'the controllers', gone);
  assert.equal(await c.unary(read, {}, 5000), 'good', 'the half reply is not taken; the call goes to the next');
  c.close();
  const w = new GrpcH2Client([half.addr, good.addr], 'the controllers', gone);
  // it reached a peer that died before answering: not "nobody answers" but an outcome nobody knows
  await assert.rejects(
    w.unary(write, {}, 5000),
    (e: unknown) =>
      e instanceof FleetnetError &&
      e.kind === 'unavailable' &&
      e.message === 'the connection to the controllers was lost during the call' &&
      /may or may not have been carried out/.test(e.hint ?? ''),
  );
  w.close();
  assert.deepEqual(good.calls, ['/t.S/Read'], 'a change without a request id is not sent again');
});

test('GrpcH2Client: a session destroyed as it connects is a failed attempt (next address), no crash', async (t) => {
  const { first, good } = await firstAndGood(t, 'first', 'answer');
  // The first session is destroyed by a 'connect' listener that runs before the client's own, as a reset
  // arriving in the same turn would leave it (seen under load: setLocalWindowSize threw out of the event).
  const http2 = process.getBuiltinModule('node:http2');
  const connect = http2.connect;
  let opened = 0;
  t.mock.method(http2, 'connect', (...args: Parameters<typeof connect>) => {
    const s = connect(...args);
    if (opened++ === 0) s.prependListener('connect', () => s.destroy());
    return s;
  });
  const c = new GrpcH2Client([first.addr, good.addr], 'the controllers');
  t.after(() => c.close());
  assert.equal(await c.unary(READ, {}, 5000), 'good');
  assert.equal(opened, 2, 'one attempt per address');
  assert.deepEqual(first.calls, [], 'nothing reached the first address');
});

test('GrpcH2Client: calls made together before any connection share one connection', async (t) => {
  const { good } = await firstAndGood(t, 'unused', 'answer');
  const c = new GrpcH2Client([good.addr], 'the test server');
  t.after(() => c.close());
  const got = await Promise.all([c.unary(READ, {}, 5000), c.unary(READ, {}, 5000), c.unary(WRITE, {}, 5000)]);
  assert.deepEqual(got, ['good', 'good', 'good']);
  assert.equal(good.calls.length, 3);
  assert.equal(good.sessions(), 1, 'one connection for the three calls');
  assert.equal(await c.unary(READ, {}, 5000), 'good');
  assert.equal(good.sessions(), 1, 'a later call reuses it');
});
