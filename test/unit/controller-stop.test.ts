// A controller stops within its grace period while an attach waits on an agent that never answers (a
// stopped agent): the call to the agent is cancelled, and the CLI hears that the controller is shutting
// down with its attach recorded and pending (exit 3). And shutdownServer does not wait past its grace.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { credentials, Metadata, Server, ServerCredentials, type ServerUnaryCall } from '@grpc/grpc-js';
import { silentLogger } from '../../common/logger.js';
import { ExecRunner } from '../../common/runner.js';
import { bindServer, SERVER_OPTIONS, shutdownServer } from '../../common/rpc/server.js';
import { AgentService, ControllerClient, ControllerService } from '../../common/rpc/services.js';
import { controllerConfig } from '../../controller/config.js';
import { startController } from '../../controller/main.js';
import { Network } from '../../proto/gen/fleetnet/v1/controller.js';
import { tempStore } from '../helpers/controller-store.js';

/** An agent over TCP that answers Health and List but never an Attach (as one stopped with SIGSTOP would not). */
async function silentAgent(t: { after(fn: () => unknown): void }) {
  let attachArrived!: () => void;
  const arrived = new Promise<void>((r) => (attachArrived = r));
  let cancelled = false;
  const answer: Record<string, unknown> = {
    health: { status: 'ok', version: 'fake', hostname: 'h1', uptimeMs: 1 },
    capabilities: { capabilities: [] },
    list: { interfaces: [], labelled: [] },
  };
  const impl = Object.fromEntries(
    Object.keys(AgentService).map((k) => [
      k,
      (call: ServerUnaryCall<unknown, unknown>, cb: (e: null, r: unknown) => void) => {
        if (answer[k]) return cb(null, answer[k]);
        if (k !== 'attach') return;
        call.on('cancelled', () => (cancelled = true));
        attachArrived();
      },
    ]),
  );
  const server = new Server(SERVER_OPTIONS);
  server.addService(AgentService, impl as never);
  const port = await bindServer(server, '127.0.0.1:0', ServerCredentials.createInsecure());
  t.after(() => server.forceShutdown());
  return { addr: `127.0.0.1:${port}`, arrived, cancelled: () => cancelled };
}

/** p, or a failure naming `what` after ms (the timer does not outlive p). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>(
    (_, rej) => (timer = setTimeout(() => rej(new Error(`${what}: not within ${ms} ms`)), ms)),
  );
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

test('stop cancels an attach in flight to a silent agent; the CLI hears "shutting down", exit 3', async (t) => {
  const agent = await silentAgent(t);
  const { store, dir } = tempStore(t);
  const sock = `unix:${dir}/ctl.sock`;
  const ctl = await startController(controllerConfig({ listen: sock, db: ':unused:' }), silentLogger(), { store });
  let stopped = false;
  t.after(() => (stopped ? undefined : ctl.stop()));
  const client = new ControllerClient(sock, credentials.createInsecure());
  t.after(() => client.close());
  const call = (fn: (...a: never[]) => unknown, req: unknown) =>
    new Promise((res, rej) =>
      (fn as (...a: unknown[]) => unknown).call(client, req, new Metadata(), {}, (e: unknown, r: unknown) =>
        e ? rej(e as Error) : res(r),
      ),
    );
  await call(client.addHost, { name: 'h1', agentAddr: agent.addr, underlayIp: '10.64.0.11' });
  const network = Network.create({ name: 'blue', subnets: ['10.1.1.0/24'], kind: 'bridge' });
  await call(client.createNetwork, { network });
  const cli = new ExecRunner().run(
    process.execPath,
    ['--import', 'tsx', 'cli/main.ts', '--controller', sock, 'attach', '--host', 'h1', '--net', 'blue', 'web1'],
    { allowFail: true, timeoutMs: 90_000, env: { ...process.env, HOME: dir, FLEETNET_CONTROLLER: '' } },
  );
  await within(agent.arrived, 30_000, 'the attach reaching the agent');
  const t0 = performance.now();
  await within(ctl.stop(), 8000, 'the controller stopping'); // its grace period is 5 s
  stopped = true;
  assert.ok(performance.now() - t0 < 4000, `stopped in ${Math.round(performance.now() - t0)} ms`);
  const r = await within(cli, 10_000, 'the CLI answering');
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stderr, /the controller is shutting down: the attach of web1 on h1 is recorded and still pending/);
  assert.match(r.stderr, /fleetnet ls --host h1/);
  assert.ok(agent.cancelled(), "the call to the agent was cancelled, not left to the agent's timeout");
});

test('shutdownServer goes on after its grace period even when a call never ends', async () => {
  const server = new Server(SERVER_OPTIONS);
  server.addService(ControllerService, { controllerHealth: () => undefined } as never);
  const port = await bindServer(server, '127.0.0.1:0', ServerCredentials.createInsecure());
  const client = new ControllerClient(`127.0.0.1:${port}`, credentials.createInsecure());
  const call = client.controllerHealth({}, new Metadata(), { deadline: Date.now() + 60_000 }, () => undefined);
  await new Promise((r) => setTimeout(r, 300)); // the call is in flight
  const t0 = performance.now();
  await within(shutdownServer(server, 200), 5000, 'shutdownServer');
  assert.ok(performance.now() - t0 < 2000);
  call.cancel();
  client.close();
});
