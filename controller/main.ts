// Composition root of the controller: config in, store opened, dispatcher rebuilt from the store,
// then (and only then) the gRPC server with reflection.
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import type { Logger } from 'pino';
import { FleetnetError } from '../common/errors.js';
import { addHealth, type ServerHealth } from '../common/rpc/health.js';
import { bindServer, SERVER_OPTIONS, warnUnauthorized } from '../common/rpc/server.js';
import { VERSION } from '../common/version.js';
import type { ControllerConfig } from './config.js';
import { tlsAgentLinks, type AgentLinkFactory } from './dispatch/agent-link.js';
import { startControllerEndpoint } from './pki/endpoint.js';
import { openTrustIfInitialised } from './pki/wiring.js';
import { Dispatcher } from './dispatch/dispatcher.js';
import { grpcMeshLink, MeshPusher, type MeshLinkFactory } from './mesh/push.js';
import { agentChannel } from './pki/wiring.js';
import { findProtoDir } from './proto-files.js';
import { controllerService } from './service/controller-service.js';
import { openStore } from './store/open.js';
import { isShared } from './store/store.js';
import { startOwnedDispatch } from './dispatch/ownership.js';
import type { Store } from './store/store.js';
import { ControllerService } from '../common/rpc/services.js';

export interface ControllerHandle {
  /** The address actually bound (the port is filled in when :0 was asked). */
  listen: string;
  store: Store;
  dispatcher: Dispatcher;
  mesh: MeshPusher;
  stop(): Promise<void>;
}

export interface ControllerDeps {
  links?: AgentLinkFactory;
  store?: Store;
  meshLinks?: MeshLinkFactory;
}

export async function startController(cfg: ControllerConfig, log: Logger, deps: ControllerDeps = {}): Promise<ControllerHandle> {
  // trust (issue 7): with a CA in the trust folder, mutual TLS towards the CLI and the agents
  const trust = await openTrustIfInitialised(cfg.trustDir);
  const store = deps.store ?? (await openStore(cfg, log));
  // Several controllers on one store: each host is dispatched by the one that owns it.
  const ownership = isShared(store) ? store.hostOwnership(log.child({ part: 'ownership' })) : undefined;
  const dispatcher = new Dispatcher({
    store, log: log.child({ part: 'dispatch' }), links: deps.links ?? tlsAgentLinks(trust), resyncMs: cfg.resyncMs,
    backoffMinMs: cfg.backoffMinMs, backoffMaxMs: cfg.backoffMaxMs, listTimeoutMs: cfg.listTimeoutMs,
    attachTimeoutMs: cfg.attachTimeoutMs, parallel: cfg.parallelPerHost,
    ...(ownership ? { owns: (h: string) => ownership.owns(h) } : {}),
  });
  await dispatcher.start();
  if (ownership && isShared(store)) await startOwnedDispatch(store, ownership, dispatcher, log.child({ part: 'ownership' }));
  const mesh = new MeshPusher({ store, log: log.child({ part: 'mesh' }), resyncMs: cfg.resyncMs, timeoutMs: 10_000, backoffMaxMs: cfg.backoffMaxMs, links: deps.meshLinks ?? ((addr, host) => grpcMeshLink(addr, agentChannel(trust, host))) });
  await mesh.start();

  const impl = controllerService({ store, dispatcher, log, version: VERSION, startedAtMs: Date.now(), maxWaitMs: cfg.maxWaitMs, mesh });
  const protoDir = findProtoDir();
  const pkg = loadSync(['fleetnet/v1/controller.proto', 'fleetnet/v1/agent.proto'], { includeDirs: [protoDir], keepCase: false });
  // Only what this server serves: agent.proto is loaded for its message types, not its service.
  const reflection = new ReflectionService(pkg, { services: ['fleetnet.v1.Controller'] });

  let server: Server;
  let port: number;
  let health: ServerHealth | undefined;
  // grpc.health.v1 beside the fleetnet services (and reflection)
  const configure = (s: Server) => {
    reflection.addToServer(s);
    health = addHealth(s, { 'fleetnet.v1.Controller': 'SERVING', ...(trust ? { 'fleetnet.v1.Enrollment': 'SERVING' } : {}) });
  };
  try {
    if (trust) {
      const ep = await startControllerEndpoint({ trust, listen: cfg.listen, log, services: [{ def: ControllerService, impl }], configure });
      server = ep.server;
      port = ep.port;
    } else {
      server = new Server(SERVER_OPTIONS);
      server.addService(ControllerService, impl);
      configure(server);
      port = await bindServer(server, cfg.listen, ServerCredentials.createInsecure());
      warnUnauthorized(log, cfg.listen, `no CA in ${cfg.trustDir} (run fleetnet controller init for mutual TLS)`);
    }
  } catch (err) {
    mesh.stop();
    await ownership?.stop();
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
    mesh,
    async stop() {
      health?.draining();
      await new Promise<void>((r) => server.tryShutdown(() => r()));
      mesh.stop();
      await ownership?.stop();
      await dispatcher.stop();
      store.close();
    },
  };
}
