// Unary methods served on node:http2 in front of grpc-js (common/grpc-direct-unary.ts): the same
// replies and the same mapped errors as through grpc-js, for grpc-js clients and for the CLI's
// GrpcLite; server streams and methods without a `unary` handler still reach grpc-js.
import { credentials, Metadata, Server, ServerCredentials, status, type ServerWritableStream, type ServiceError, type UntypedServiceImplementation } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:http2';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import pino from 'pino';
import { CONTROLLER_METHODS } from '../../cli/client/controller.js';
import { GrpcLite } from '../../cli/client/grpc-lite.js';
import { conflict, FleetnetError } from '../../common/errors.js';
import { serveUnaryDirect } from '../../common/grpc-direct-unary.js';
import { fromServiceError, unary } from '../../common/grpc-errors.js';
import { ControllerClient, ControllerService, type ControllerHealthReply, type ListAttachmentsRequest } from '../../proto/gen/fleetnet/v1/controller.js';

const log = pino({ level: 'silent' });

test('direct unary methods answer as grpc-js would; streams and plain handlers still go through grpc-js', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'fn-direct-'));
  const addr = `unix://${join(dir, 's.sock')}`;
  let viaGrpcJs = 0;
  const health = unary(log, 'ControllerHealth', async () => ({ status: 'ok', version: 'v-test', uptimeMs: 7, store: 'none' }));
  const impl: UntypedServiceImplementation = {
    // counts calls that reach grpc-js's handler: a direct method must never get there
    controllerHealth: Object.assign((c: Parameters<typeof health>[0], cb: Parameters<typeof health>[1]) => { viaGrpcJs++; health(c, cb); }, { run: health.run }),
    addHost: unary(log, 'AddHost', async () => { throw conflict('host h1 is already registered at 10.0.0.1:7441', 'remove it first: fleetnet host rm h1'); }),
    listHosts: (_c: unknown, cb: (e: null, r: object) => void) => { viaGrpcJs++; cb(null, { hosts: [] }); },
    listAttachmentsJson: (call: ServerWritableStream<ListAttachmentsRequest, { data: Buffer }>) => {
      call.write({ data: Buffer.from('[]') });
      call.end();
    },
  };
  const server = new Server();
  server.addService(ControllerService, impl);
  await new Promise<number>((resolve, reject) => server.bindAsync(addr, ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  assert.equal(serveUnaryDirect(server, [{ def: ControllerService, impl }], { log }), 2, 'controllerHealth and addHost are served directly');
  const grpcJs = new ControllerClient(addr, credentials.createInsecure());
  const lite = new GrpcLite(addr, 'the test server');
  t.after(() => {
    grpcJs.close();
    lite.close();
    server.forceShutdown();
    rmSync(dir, { recursive: true, force: true });
  });

  // a grpc-js client: reply, mapped error with its metadata, a server stream
  const h = await new Promise<ControllerHealthReply>((resolve, reject) => grpcJs.controllerHealth({}, (e, r) => (e ? reject(e) : resolve(r))));
  assert.deepEqual(h, { status: 'ok', version: 'v-test', uptimeMs: 7, store: 'none' });
  const err = await new Promise<ServiceError>((resolve) => grpcJs.addHost({ name: 'h1', agentAddr: '10.0.0.1', underlayIp: '' }, new Metadata(), (e) => resolve(e!)));
  assert.equal(err.code, status.ALREADY_EXISTS);
  assert.equal(err.details, 'host h1 is already registered at 10.0.0.1:7441');
  const mapped = fromServiceError(err, 'the test server');
  assert.equal(mapped.kind, 'conflict');
  assert.equal(mapped.hint, 'remove it first: fleetnet host rm h1');
  const chunks: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    const s = grpcJs.listAttachmentsJson({ host: '', network: '', container: '' });
    s.on('data', (m: { data: Buffer }) => chunks.push(m.data));
    s.on('end', resolve);
    s.on('error', reject);
  });
  assert.equal(Buffer.concat(chunks).toString(), '[]');

  // the CLI's client: the same
  assert.equal((await lite.unary(CONTROLLER_METHODS.controllerHealth, {}, 5000)).version, 'v-test');
  await assert.rejects(lite.unary(CONTROLLER_METHODS.addHost, { name: 'h1', agentAddr: '10.0.0.1', underlayIp: '' }, 5000),
    (e: unknown) => e instanceof FleetnetError && e.kind === 'conflict' && e.hint === 'remove it first: fleetnet host rm h1');
  assert.deepEqual((await lite.unary(CONTROLLER_METHODS.listHosts, {}, 5000)).hosts, []); // a plain handler: grpc-js
  assert.equal(viaGrpcJs, 1, 'only listHosts went through grpc-js');

  // a body that is not exactly one gRPC message is refused with a status, not dropped
  const session = connect(`http://localhost`, { createConnection: () => netConnect(join(dir, 's.sock')) });
  t.after(() => session.close());
  const code = await new Promise<string | undefined>((resolve) => {
    const s = session.request({ ':method': 'POST', ':path': ControllerService.controllerHealth.path, 'content-type': 'application/grpc' });
    let got: string | undefined;
    s.on('response', (hd) => (got ??= hd['grpc-status'] as string | undefined));
    s.on('trailers', (tr) => (got ??= tr['grpc-status'] as string | undefined));
    s.on('data', () => {});
    s.on('close', () => resolve(got));
    s.end(Buffer.from([0, 0, 0, 0, 9, 1, 2]));
  });
  assert.equal(code, String(status.INVALID_ARGUMENT));
});
