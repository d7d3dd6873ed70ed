// Composition root of the controller: config in, store opened, dispatcher rebuilt from the store,
// then (and only then) the gRPC server with reflection.
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import type { Logger } from 'pino';
import { FleetnetError } from '../common/errors.js';
import { addHealth, type ServerHealth } from '../common/rpc/health.js';
import { bindServer, SERVER_OPTIONS, shutdownServer, warnUnauthorized } from '../common/rpc/server.js';
import { VERSION } from '../common/version.js';
import { withMetrics, type OpenMetrics } from '../common/metrics-open.js';
import type { ControllerConfig } from './config.js';
import { tlsAgentLinks, type AgentLinkFactory } from './dispatch/agent-link.js';
import { startControllerEndpoint } from './pki/endpoint.js';
import { openTrustIfInitialised } from './pki/wiring.js';
import { Dispatcher } from './dispatch/dispatcher.js';
import { grpcMeshLink, MeshPusher, type MeshLinkFactory } from './mesh/push.js';
import { agentChannel } from './pki/wiring.js';
import { findProtoDir } from './proto-files.js';
import { controllerService, HOST_SCOPED_POLICY } from './service/controller-service.js';
import { openStore } from './store/open.js';
import { isShared } from './store/store.js';
import { startOwnedDispatch } from './dispatch/ownership.js';
import type { Store } from './store/store.js';
import { AdminService, ControllerService } from '../common/rpc/services.js';
import { parseHostId } from '../common/pki/identity.js';
import { FleetEvents } from './events/fleet-events.js';
import { TunnelWatch } from './events/tunnel-watch.js';
import { watchEventsHandler } from './events/watch-service.js';
import { agentVersionsHandler } from './service/agent-versions.js';
import { poolStats } from './ipam/pool-stats.js';
import { ADMIN_POLICY, adminService } from './service/admin-service.js';

export interface ControllerHandle {
  /** The address actually bound (the port is filled in when :0 was asked). */
  listen: string;
  /** The metrics endpoint's address, when --metrics asked for one. */
  metricsListen?: string;
  /** What changes in the fleet (attach, detach, host and tunnel up/down), for watchers. */
  events: FleetEvents;
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

export async function startController(
  cfg: ControllerConfig,
  log: Logger,
  deps: ControllerDeps = {},
): Promise<ControllerHandle> {
  return withMetrics('ControllerMetrics', cfg.metrics, log, (metrics) => startServing(cfg, log, deps, metrics));
}

type Metrics = OpenMetrics<'ControllerMetrics'>;

async function startServing(
  cfg: ControllerConfig,
  log: Logger,
  deps: ControllerDeps,
  metrics: Metrics | undefined,
): Promise<ControllerHandle> {
  // trust (issue 7): with a CA in the trust folder, mutual TLS towards the CLI and the agents
  const folderTrust = await openTrustIfInitialised(cfg.trustDir);
  const store = deps.store ?? (await openStore(cfg, log));
  // Several controllers: join tokens, issued serials and revocations in the shared store (never the CA key).
  const trust =
    folderTrust && isShared(store) ? store.sharedTrust(folderTrust, log.child({ part: 'trust' })) : folderTrust;
  // Several controllers on one store: each host is dispatched by the one that owns it.
  const ownership = isShared(store) ? store.hostOwnership(log.child({ part: 'ownership' })) : undefined;
  const events = new FleetEvents();
  const dispatcher = new Dispatcher({
    store,
    log: log.child({ part: 'dispatch' }),
    links: deps.links ?? tlsAgentLinks(trust),
    resyncMs: cfg.resyncMs,
    backoffMinMs: cfg.backoffMinMs,
    backoffMaxMs: cfg.backoffMaxMs,
    listTimeoutMs: cfg.listTimeoutMs,
    attachTimeoutMs: cfg.attachTimeoutMs,
    parallel: cfg.parallelPerHost,
    ...(ownership ? { owns: (h: string) => ownership.owns(h) } : {}),
    observer: {
      event: (e) => events.publish(e),
      ...(metrics ? { passDone: (_h: string, drift: number) => countPass(metrics.m, drift) } : {}),
    },
  });
  await dispatcher.start();
  const mesh = new MeshPusher({
    store,
    log: log.child({ part: 'mesh' }),
    resyncMs: cfg.resyncMs,
    timeoutMs: 10_000,
    backoffMaxMs: cfg.backoffMaxMs,
    links: deps.meshLinks ?? ((addr, host) => grpcMeshLink(addr, agentChannel(trust, host))),
    ...(ownership ? { owns: (h: string) => ownership.owns(h) } : {}),
  });
  if (ownership && isShared(store)) {
    await startOwnedDispatch(store, ownership, dispatcher, mesh, log.child({ part: 'ownership' }));
  }
  await mesh.start();

  const served = controllerService({
    store,
    dispatcher,
    log,
    version: VERSION,
    startedAtMs: Date.now(),
    maxWaitMs: cfg.maxWaitMs,
    mesh,
    // With a CA every host will want a certificate: a name one cannot carry is refused when it is added, not at
    // its first token or enrolment.
    ...(trust ? { newHostName: (name: string) => void parseHostId(name) } : {}),
    ...(ownership ? { owners: () => ownership.owners() } : {}),
  });
  if (metrics) controllerGauges(metrics.m, store);
  const timed = metrics && { fleetAttach: metrics.m.attachSeconds, fleetDetach: metrics.m.detachSeconds };
  const closing = new AbortController();
  const withEvents = {
    ...served,
    watchEvents: watchEventsHandler(events, closing.signal),
    agentVersions: agentVersionsHandler(store, dispatcher, log),
  };
  const impl = metrics && timed ? metrics.m.instrument(ControllerService, withEvents, timed) : withEvents;
  const tunnels = new TunnelWatch({
    events,
    status: () => mesh.status(),
    periodMs: cfg.resyncMs,
    log: log.child({ part: 'events' }),
  });
  tunnels.start();
  const admin = { def: AdminService, impl: adminService({ trust, store, log: log.child({ part: 'admin' }) }) };
  const protoDir = findProtoDir();
  const protos = ['fleetnet/v1/controller.proto', 'fleetnet/v1/agent.proto', 'fleetnet/v1/admin.proto'];
  const pkg = loadSync(protos, { includeDirs: [protoDir], keepCase: false });
  // Only what this server serves: agent.proto is loaded for its message types, not its service.
  const reflection = new ReflectionService(pkg, { services: ['fleetnet.v1.Controller', 'fleetnet.v1.Admin'] });

  let server: Server;
  let port: number;
  let health: ServerHealth | undefined;
  // grpc.health.v1 beside the fleetnet services (and reflection)
  const configure = (s: Server) => {
    reflection.addToServer(s);
    health = addHealth(s, {
      'fleetnet.v1.Controller': 'SERVING',
      ...(trust ? { 'fleetnet.v1.Enrollment': 'SERVING' } : {}),
    });
  };
  try {
    if (trust) {
      const ep = await startControllerEndpoint({
        trust,
        listen: cfg.listen,
        log,
        services: [{ def: ControllerService, impl }, admin],
        policy: { ...HOST_SCOPED_POLICY, ...ADMIN_POLICY },
        configure,
      });
      server = ep.server;
      port = ep.port;
    } else {
      server = new Server(SERVER_OPTIONS);
      server.addService(ControllerService, impl);
      server.addService(admin.def, admin.impl); // no CA: it answers that it needs one
      configure(server);
      port = await bindServer(server, cfg.listen, ServerCredentials.createInsecure());
      warnUnauthorized(log, cfg.listen, `no CA in ${cfg.trustDir} (run fleetnet controller init for mutual TLS)`);
    }
  } catch (err) {
    tunnels.stop();
    mesh.stop();
    await ownership?.stop();
    await dispatcher.stop();
    store.close();
    throw new FleetnetError('failed', `cannot listen on ${cfg.listen}`, {
      cause: err,
      hint: 'give an address this machine holds and a free port, e.g. --listen 127.0.0.1:7440',
    });
  }
  const listen = cfg.listen.replace(/:\d+$/, `:${port}`);
  let stopping: Promise<void> | undefined;
  log.info({ listen, store: store.description, version: VERSION }, 'controller serving');
  return {
    listen,
    ...(metrics ? { metricsListen: metrics.endpoint.listen } : {}),
    events,
    store,
    dispatcher,
    mesh,
    // once, however often it is asked (a signal and a caller's own stop)
    stop: () =>
      (stopping ??= (async () => {
        tunnels.stop();
        health?.draining();
        closing.abort(); // watches end now; other calls in flight get a grace period
        // Calls to agents in flight are cancelled first: the requests waiting on them answer (their change recorded
        // and pending) within the grace period, not after an agent that does not answer timed out (30 s).
        const dispatchStopped = dispatcher.stop();
        mesh.stop();
        await shutdownServer(server);
        await ownership?.stop();
        await dispatchStopped;
        store.close();
        await metrics?.endpoint.close();
      })()),
  };
}

function countPass(m: Metrics['m'], drift: number): void {
  m.reconcilePasses.inc();
  m.reconcileDrift.inc(drift);
}

/** Hosts and IPAM pools, read from the store at each scrape. */
function controllerGauges(m: Metrics['m'], store: Store): void {
  m.onScrape(async () => {
    const { hosts, pools } = await store.read((tx) => ({ hosts: tx.listHosts(), pools: poolStats(tx) }));
    m.hostUp.reset();
    for (const h of hosts) m.hostUp.set({ host: h.name, state: h.state }, h.state === 'up' ? 1 : 0);
    for (const g of [m.poolSize, m.poolUsed, m.poolFree]) g.reset();
    for (const p of pools) {
      const l = { network: p.network, family: `ipv${p.family}` };
      m.poolSize.set(l, p.size);
      m.poolUsed.set(l, p.used);
      m.poolFree.set(l, p.free);
    }
  });
}
