// The CLI's gRPC client on node:http2: message framing across arbitrary DATA chunk boundaries, server
// streams, gRPC status and fleetnet error metadata, against a plain node:http2 server on a unix
// socket; mutual TLS; failover between several addresses, and only when resending is harmless.
import assert from 'node:assert/strict';
import { createServer, type Http2Server, type ServerHttp2Stream } from 'node:http2';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { FleetnetError } from '../../common/errors.js';
import { FrameReader, GrpcH2Client } from '../../cli/client/grpc-h2.js';
import { fakeServer, frame } from './grpc-h2-fixture.js';

/** A client of server, listening on a socket in dir; all three gone after the test. */
async function clientOf(t: TestContext, server: Http2Server, dir: string): Promise<GrpcH2Client> {
  const sock = join(dir, 's.sock');
  await new Promise<void>((r) => server.listen(sock, r));
  const c = new GrpcH2Client([`unix://${sock}`], 'the test server');
  t.after(() => {
    c.close();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return c;
}

test('FrameReader yields each message whole, whatever the chunk boundaries', () => {
  const msgs = [Buffer.alloc(0), Buffer.from('a'), Buffer.alloc(70_000, 7), Buffer.from('last message')];
  const wire = Buffer.concat(msgs.map(frame));
  for (const step of [1, 2, 3, 5, 6, 4096, 16_384, wire.length]) {
    const got: Buffer[] = [];
    const r = new FrameReader((m) => got.push(Buffer.from(m)));
    for (let off = 0; off < wire.length; off += step) r.push(wire.subarray(off, off + step));
    assert.deepEqual(got, msgs, `chunks of ${step} bytes`);
    assert.equal(r.pending, 0);
  }
});

test(
  'GrpcH2Client: a server stream arrives message by message; ' + 'a refusal maps back to its FleetnetError',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'fn-grpc-lite-'));
    const server = createServer();
    server.on('stream', (s: ServerHttp2Stream, h) => {
      s.on('data', () => {});
      s.on('end', () => {
        if (h[':path'] === '/t.S/Stream') {
          s.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
          s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }));
          for (let i = 0; i < 3; i++) s.write(frame(Buffer.alloc(100_000, 65 + i)));
          s.end();
        } else {
          s.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
          s.on('wantTrailers', () =>
            s.sendTrailers({
              'grpc-status': '6',
              'grpc-message': encodeURIComponent('10.1.1.5 is taken by web1'),
              'fleetnet-kind': 'conflict',
              'fleetnet-hint-bin': Buffer.from('detach it first').toString('base64'),
            }),
          );
          s.end();
        }
      });
    });
    const c = await clientOf(t, server, dir);
    const m = { path: '/t.S/Stream', encode: () => new Uint8Array(0), idempotent: true };
    const got: string[] = [];
    await c.stream(m, {}, 10_000, (msg) => got.push(`${String.fromCharCode(msg[0]!)}${msg.length}`));
    assert.deepEqual(got, ['A100000', 'B100000', 'C100000']);
    const refused = c.unary(
      { path: '/t.S/Refuse', encode: () => new Uint8Array(0), decode: (b: Uint8Array) => b, idempotent: false },
      {},
      10_000,
    );
    await assert.rejects(
      refused,
      (e: unknown) =>
        e instanceof FleetnetError &&
        e.kind === 'conflict' &&
        e.message === '10.1.1.5 is taken by web1' &&
        e.hint === 'detach it first',
    );
    const gone = new GrpcH2Client([`unix://${join(dir, 'nobody.sock')}`], 'nobody', {
      unavailable: (cause) => new FleetnetError('unavailable', 'nobody there', { cause }),
    });
    await assert.rejects(
      gone.unary(
        { path: '/t.S/X', encode: () => new Uint8Array(0), decode: (b: Uint8Array) => b, idempotent: false },
        {},
        2_000,
      ),
      /nobody there/,
    );
    gone.close();
  },
);

test('GrpcH2Client over mutual TLS (the CLI to a controller): ALPN h2, both certificates checked', async (t) => {
  const { makeTestFleet } = await import('../helpers/pki.js');
  const { createSecureServer } = await import('node:http2');
  const { CONTROLLER_NAME } = await import('../../common/pki/identity.js');
  const fleet = await makeTestFleet();
  const server = await fleet.cred('controller', CONTROLLER_NAME);
  const cli = await fleet.cred('cli', 'admin');
  const seen: string[] = [];
  const srv = createSecureServer({
    key: server.keyPem,
    cert: server.certPem,
    ca: server.caPem,
    requestCert: true,
    rejectUnauthorized: true,
  });
  srv.on('stream', (s, h) => {
    const peer = (s.session?.socket as import('node:tls').TLSSocket).getPeerCertificate();
    seen.push(`${String(h[':scheme'])} ${String(peer.subject?.CN)}`);
    s.on('data', () => {});
    s.on('end', () => {
      s.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }));
      s.end(frame(Buffer.from('over tls')));
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as import('node:net').AddressInfo).port;
  const c = new GrpcH2Client([`127.0.0.1:${port}`], 'the test controller', {
    tls: { ...cli, serverName: CONTROLLER_NAME },
  });
  t.after(() => {
    c.close();
    srv.close();
    fleet.cleanup();
  });
  const reply = await c.unary(
    {
      path: '/t.S/Tls',
      encode: () => new Uint8Array(0),
      decode: (b: Uint8Array) => Buffer.from(b).toString(),
      idempotent: false,
    },
    {},
    10_000,
  );
  assert.equal(reply, 'over tls');
  assert.equal(seen.length, 1);
  assert.match(seen[0]!, /^https /, 'the request says https');
  // A client without a certificate of this fleet is refused by the server's TLS, and says so.
  const stranger = new GrpcH2Client([`127.0.0.1:${port}`], 'the test controller', {
    tls: { ...(await fleet.foreign('cli', 'eve')), serverName: CONTROLLER_NAME },
  });
  await assert.rejects(
    stranger.unary(
      { path: '/t.S/Tls', encode: () => new Uint8Array(0), decode: (b: Uint8Array) => b, idempotent: false },
      {},
      10_000,
    ),
    (e: unknown) => e instanceof FleetnetError,
  );
  stranger.close();
});

test('hostPort splits HOST:PORT and [V6]:PORT', async () => {
  const { hostPort } = await import('../../cli/client/grpc-h2.js');
  assert.deepEqual(hostPort('10.0.0.1:7440', false), { host: '10.0.0.1', port: 7440 });
  assert.deepEqual(hostPort('[fd00::1]:7440', true), { host: 'fd00::1', port: 7440 });
  assert.deepEqual(hostPort('ctl.example', true), { host: 'ctl.example', port: 443 });
});

test("--socket: a relative path is the working folder's (it reached no agent), HOST:PORT stays", async () => {
  const { agentAddress } = await import('../../cli/client/agent.js');
  assert.equal(agentAddress('agent/agent.sock'), `unix://${join(process.cwd(), 'agent', 'agent.sock')}`);
  assert.equal(agentAddress('./a.sock'), `unix://${join(process.cwd(), 'a.sock')}`);
  assert.equal(agentAddress('/run/fleetnet/agent.sock'), 'unix:///run/fleetnet/agent.sock');
  assert.equal(agentAddress('10.99.0.11:7441'), '10.99.0.11:7441');
});

test(
  'the CLI without a credential, against a controller that wants mutual TLS: ' +
    'says the credential is missing and how to get one',
  async (t) => {
    const { makeTestFleet } = await import('../helpers/pki.js');
    const { createSecureServer } = await import('node:http2');
    const { CONTROLLER_NAME } = await import('../../common/pki/identity.js');
    const { connectController } = await import('../../cli/client/controller.js');
    const fleet = await makeTestFleet();
    const server = await fleet.cred('controller', CONTROLLER_NAME);
    const srv = createSecureServer({
      key: server.keyPem,
      cert: server.certPem,
      ca: server.caPem,
      requestCert: true,
      rejectUnauthorized: true,
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as import('node:net').AddressInfo).port;
    const saved = {
      tls: process.env.FLEETNET_TLS_DIR,
      ctl: process.env.FLEETNET_CONTROLLER_DIR,
      insecure: process.env.FLEETNET_INSECURE,
    };
    process.env.FLEETNET_TLS_DIR = join(fleet.dir, 'no-cli-credential');
    process.env.FLEETNET_CONTROLLER_DIR = join(fleet.dir, 'no-controller-dir');
    delete process.env.FLEETNET_INSECURE;
    const conn = connectController(`127.0.0.1:${port}`);
    t.after(() => {
      conn.close();
      srv.close();
      fleet.cleanup();
      for (const [k, v] of [
        ['FLEETNET_TLS_DIR', saved.tls],
        ['FLEETNET_CONTROLLER_DIR', saved.ctl],
        ['FLEETNET_INSECURE', saved.insecure],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    });
    // a read, and a change (not one the controller lost mid-call: nothing reached it)
    for (const call of [
      () => conn.call(conn.client.listHosts, {}, 5000),
      () => conn.call(conn.client.createNetwork, { name: 'x', subnets: ['10.1.1.0/24'] } as never, 5000),
    ]) {
      await assert.rejects(call(), (e: unknown) => {
        assert.ok(e instanceof FleetnetError);
        assert.equal(e.kind, 'permission', e.message);
        assert.match(e.message, /requires a client certificate \(mutual TLS\), and this CLI has none/);
        assert.match(e.hint ?? '', /copy ca\.crt, cli\/admin\.crt and cli\/admin\.key/);
        return true;
      });
    }
  },
);

test('a connection that is never closed does not keep a CLI process alive', async (t) => {
  const { spawn } = await import('node:child_process');
  const dir = mkdtempSync(join(tmpdir(), 'fn-grpc-h2-exit-'));
  const good = await fakeServer(dir, 'good', 'answer');
  t.after(() => {
    good.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const code = `import { GrpcH2Client } from './cli/client/grpc-h2.ts';
    const c = new GrpcH2Client([${JSON.stringify(good.addr)}], 'x');
    const read = { path: '/t.S/Read', encode: () => new Uint8Array(0), decode: (b) => Buffer.from(b).toString() };
    const r = await c.unary({ ...read, idempotent: true }, {}, 5000);
    console.log(r); // and no close()`;
  // a second process, so that only its own event loop decides when it ends
  const r = await new Promise<{ status: number | null; stdout: string }>((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 20_000);
    p.on('exit', (status) => (clearTimeout(timer), resolve({ status, stdout: out })));
  });
  assert.equal(r.stdout.trim(), 'good');
  assert.equal(r.status, 0, 'the process exited on its own');
});

test('GrpcH2Client lets a server send a big reply without waiting on window updates', async (t) => {
  // ls --json of a big fleet is ~30 MB in 1 MiB messages: with HTTP/2's default 64 KiB windows and
  // 16 KiB frames the server stops every 64 KiB until the client's WINDOW_UPDATE comes back.
  const dir = mkdtempSync(join(tmpdir(), 'fn-grpc-window-'));
  const server = createServer();
  const seen: { streamWindow?: number; frame?: number; connWindow?: number } = {};
  server.on('stream', (s: ServerHttp2Stream) => {
    seen.streamWindow = s.session!.remoteSettings.initialWindowSize;
    seen.frame = s.session!.remoteSettings.maxFrameSize;
    seen.connWindow = s.session!.state.remoteWindowSize;
    s.on('data', () => {});
    s.on('end', () => {
      s.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      s.on('wantTrailers', () => s.sendTrailers({ 'grpc-status': '0' }));
      s.end(frame(Buffer.alloc(3 << 20, 1)));
    });
  });
  const c = await clientOf(t, server, dir);
  const sizes: number[] = [];
  const m = { path: '/t.S/Big', encode: () => new Uint8Array(0), idempotent: true };
  await c.stream(m, {}, 10_000, (msg) => sizes.push(msg.length));
  assert.deepEqual(sizes, [3 << 20]);
  assert.ok(seen.streamWindow! >= 32 << 20, `stream window ${seen.streamWindow}`);
  assert.ok(seen.connWindow! >= 32 << 20, `connection window ${seen.connWindow}`);
  assert.ok(seen.frame! >= 1 << 20, `max frame ${seen.frame}`);
});
