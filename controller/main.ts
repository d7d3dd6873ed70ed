// Composition root of the controller: config in, store opened, dispatcher rebuilt from the store,
// then (and only then) the gRPC server with reflection.
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import type { Logger } from 'pino';
import { FleetnetError } from '../common/errors.js';
import { VERSION } from '../common/version.js';
import { ControllerService } from '../proto/gen/fleetnet/v1/controller.js';
import type { ControllerConfig } from './config.js';
import { grpcAgentLink, type AgentLinkFactory } from './dispatch/agent-link.js';
import { Dispatcher } from './dispatch/dispatcher.js';
import { findProtoDir } from './proto-files.js';
import { controllerService } from './service/controller-service.js';
import { SqliteStore } from './store/sqlite.js';
import type { Store } from './store/store.js';

export interface ControllerHandle {
  /** The address actually bound (the port is filled in when :0 was asked). */
  listen: string;
  store: Store;
  dispatcher: Dispatcher;
  stop(): Promise<void>;
}

export interface ControllerDeps {
  links?: AgentLinkFactory;
  store?: Store;
}

export async function startController(cfg: ControllerConfig, log: Logger, deps: ControllerDeps = {}): Promise<ControllerHandle> {
  const store = deps.store ?? new SqliteStore({ path: cfg.db, synchronous: cfg.synchronous });
  const dispatcher = new Dispatcher({
    store, log: log.child({ part: 'dispatch' }), links: deps.links ?? grpcAgentLink, resyncMs: cfg.resyncMs,
    backoffMinMs: cfg.backoffMinMs, backoffMaxMs: cfg.backoffMaxMs, listTimeoutMs: cfg.listTimeoutMs,
    attachTimeoutMs: cfg.attachTimeoutMs, parallel: cfg.parallelPerHost,
  });
  await dispatcher.start();

  // No channelz: its per-call bookkeeping was ~2 % of the controller's CPU under an allocation burst, and
  // nothing here reads it.
  const server = new Server({ 'grpc.enable_channelz': 0 });
  server.addService(ControllerService, controllerService({ store, dispatcher, log, version: VERSION, startedAtMs: Date.now(), maxWaitMs: cfg.maxWaitMs }));
  const protoDir = findProtoDir();
  const pkg = loadSync(['fleetnet/v1/controller.proto', 'fleetnet/v1/agent.proto'], { includeDirs: [protoDir], keepCase: false });
  // Only what this server serves: agent.proto is loaded for its message types, not its service.
  new ReflectionService(pkg, { services: ['fleetnet.v1.Controller'] }).addToServer(server);

  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(cfg.listen, ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
  } catch (err) {
    await dispatcher.stop();
    store.close();
    throw new FleetnetError('failed', `cannot listen on ${cfg.listen}`, { cause: err, hint: 'give an address this machine holds and a free port, e.g. --listen 127.0.0.1:7440' });
  }
  const listen = cfg.listen.replace(/:\d+$/, `:${port}`);
  log.info({ listen, store: store.description, version: VERSION }, 'controller serving');
  return {
    listen,
    store,
    dispatcher,
    async stop() {
      await new Promise<void>((r) => server.tryShutdown(() => r()));
      await dispatcher.stop();
      store.close();
    },
  };
}
