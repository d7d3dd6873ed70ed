// The RPC layer (common/rpc/): handlers get the call's AbortSignal and deadline, errors cross as
// typed FleetnetErrors (kind, hint, cause) both ways, and the one agent client passes deadlines and
// cancellation on. Everything through grpc-js's public API, over a unix socket.
import { Server, ServerCredentials, status, type UntypedServiceImplementation } from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { conflict, FleetnetError } from '../../common/errors.js';
import { AgentRpcClient } from '../../common/rpc/agent-client.js';
import { bindServer, unary, type CallContext } from '../../common/rpc/server.js';
import { fromServiceError, GrpcStatus } from '../../common/rpc/status.js';
import { AttachRequest, DetachRequest } from '../../proto/gen/fleetnet/v1/agent.js';
import { AgentService } from '../../common/rpc/services.js';

const log = pino({ level: 'silent' });
const dir = mkdtempSync(join(tmpdir(), 'fn-rpc-'));
const addr = `unix://${join(dir, 'agent.sock')}`;
let server: Server;
let client: AgentRpcClient;
/** What the slow handler saw: its context, and whether its signal was aborted (and why). */
const seen: { ctx?: CallContext; aborted?: Promise<unknown> } = {};

before(async () => {
  const impl: UntypedServiceImplementation = {
    health: unary(log, 'Health', async () => ({ status: 'ok', version: 'v-test', hostname: 'h', uptimeMs: 1 })),
    attach: unary(log, 'Attach', async () => {
      throw conflict('10.1.1.5 is taken by web1', 'pick another address or detach web1');
    }),
    // never answers: ends when its signal says the caller is gone
    list: unary(log, 'List', (_req, ctx) => {
      seen.ctx = ctx;
      seen.aborted = new Promise((resolve) =>
        ctx.signal.addEventListener('abort', () => resolve(ctx.signal.reason), { once: true }),
      );
      return new Promise((_resolve, reject) =>
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true }),
      );
    }),
    detach: unary(log, 'Detach', () => {
      throw new Error('a plain bug'); // thrown synchronously: still a status, not a crash
    }),
  };
  server = new Server();
  server.addService(AgentService, impl);
  await bindServer(server, addr, ServerCredentials.createInsecure());
  client = new AgentRpcClient(addr);
});

after(() => {
  client?.close();
  server?.forceShutdown();
  rmSync(dir, { recursive: true, force: true });
});

describe('common/rpc', () => {
  it(
    'a reply arrives; ' + 'a refusal arrives as the same FleetnetError kind and hint, with the call as its cause',
    async () => {
      assert.equal((await client.health(5000)).version, 'v-test');
      await assert.rejects(client.attach(AttachRequest.fromPartial({}), 5000), (e: unknown) => {
        assert.ok(e instanceof FleetnetError);
        assert.equal(e.kind, 'conflict');
        assert.equal(e.message, '10.1.1.5 is taken by web1');
        assert.equal(e.hint, 'pick another address or detach web1');
        assert.equal((e.cause as { code: number }).code, status.ALREADY_EXISTS);
        return true;
      });
      await assert.rejects(
        client.detach(DetachRequest.fromPartial({}), 5000),
        (e: unknown) => e instanceof FleetnetError && e.kind === 'failed' && e.message === 'a plain bug',
      );
    },
  );

  it('the handler gets the deadline, and its signal aborts when the deadline passes', async () => {
    const t0 = Date.now();
    await assert.rejects(
      client.list(300),
      (e: unknown) =>
        e instanceof FleetnetError && e.kind === 'unavailable' && /did not answer in time/.test(e.message),
    );
    const reason = await seen.aborted;
    assert.ok(reason instanceof FleetnetError);
    assert.ok(
      seen.ctx!.deadlineMs >= t0 && seen.ctx!.deadlineMs <= Date.now() + 1000,
      `deadline ${seen.ctx!.deadlineMs}`,
    );
  });

  it("a caller's AbortSignal cancels the call, and the handler hears it", async () => {
    seen.aborted = undefined;
    const ac = new AbortController();
    const call = client.list(60_000, ac.signal);
    while (seen.aborted === undefined) await new Promise((r) => setImmediate(r)); // the handler is running
    ac.abort();
    await assert.rejects(
      call,
      (e: unknown) => e instanceof FleetnetError && e.kind === 'unavailable' && /cancelled/.test(e.message),
    );
    const reason: unknown = await (seen.aborted as Promise<unknown> | undefined);
    assert.ok(reason instanceof FleetnetError);
    assert.equal(seen.ctx!.deadlineMs > Date.now() + 30_000, true);
    await assert.rejects(client.list(1000, AbortSignal.abort()), /cancelled/);
  });

  it('a status without fleetnet metadata maps by its code', () => {
    const e = fromServiceError({ code: GrpcStatus.UNAVAILABLE, details: 'connect ECONNREFUSED' }, 'the agent at x');
    assert.equal(e.kind, 'unavailable');
    assert.match(e.message, /the agent at x does not answer/);
    // grpc-js's connection failure, without its scaffolding (and an empty resolution note)
    const details =
      'No connection established. Last error: Error: connect ECONNREFUSED 10.99.0.50:7441. Resolution note: ';
    assert.equal(
      fromServiceError({ code: GrpcStatus.UNAVAILABLE, details }, 'the agent at 10.99.0.50:7441').message,
      'the agent at 10.99.0.50:7441 does not answer (connect ECONNREFUSED 10.99.0.50:7441)',
    );
    // grpc-js kept no error of the attempt (an agent killed: connections refused): the real cause, never "(null)"
    const lost = 'No connection established. Last error: null. Resolution note: ';
    for (const [failure, cause] of [
      [{ details: lost, message: `14 UNAVAILABLE: ${lost}` }, 'no connection: gRPC status 14 UNAVAILABLE'],
      [{ details: null as unknown as string, message: 'connect ECONNREFUSED 10.0.0.5:7441' }, 'connect ECONNREFUSED'],
      [{ details: 'null' }, 'no connection: gRPC status 14 UNAVAILABLE'],
    ] as const) {
      const m = fromServiceError({ code: GrpcStatus.UNAVAILABLE, ...failure }, 'the agent at x').message;
      assert.ok(m.startsWith(`the agent at x does not answer (${cause}`), m);
      assert.doesNotMatch(m, /null|undefined/);
    }
    assert.equal(
      fromServiceError({ code: GrpcStatus.UNAUTHENTICATED, details: 'no client certificate' }).kind,
      'permission',
    );
  });
});
