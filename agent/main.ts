// Composition root of the agent: config in, servers up, every dependency passed explicitly.
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { chmodSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import { unsupported } from '../common/errors.js';
import { ExecRunner, type Runner } from '../common/runner.js';
import { VERSION } from '../common/version.js';
import { withMetrics, type OpenMetrics } from '../common/metrics-open.js';
import { hostname } from 'node:os';
import { GrpcFleetLink } from '../cni/fleet-link-grpc.js';
import { CniHandler } from '../cni/handler.js';
import { cniSocketOf } from '../cni/transport.js';
import { Reservations } from '../cni/reservations.js';
import { GoneReservations } from './lifecycle/cni-gone.js';
import { Attacher } from './attach/attacher.js';
import { RecordStore } from './attach/records.js';
import type { AgentConfig } from './config.js';
import { DockerIndex } from './containers/docker-index.js';
import { loadDockerode } from './containers/dockerode-load.js';
import { ContainerResolver } from './containers/resolve.js';
import { DhcpSupervisor } from './dhcp/supervisor.js';
import { checkHost } from './lifecycle/check.js';
import { Lifecycle, type PassReport } from './lifecycle/lifecycle.js';
import { WatchedOwnedPorts } from './lifecycle/orphans.js';
import { watchLxcEvents } from './lifecycle/lxc-events.js';
import { ownerMarkOf } from './lifecycle/owner-mark.js';
import { OvsCtl } from './ovs/vsctl.js';
import { probeCapabilities, type Capability } from './linux/capabilities.js';
import { ipExec, type IpExec } from './linux/ip.js';
import { netlinkIp } from './linux/ip-netlink.js';
import { execNeighIo, type NeighIo } from './linux/neigh-io.js';
import { netlinkNeighIo } from './linux/neigh-netlink.js';
import { runBatch } from './linux/netlink-batch.js';
import { netlinkWorkerFile, startNetlinkThread, type NetlinkThread } from './linux/netlink-thread.js';
import { loadRtnl } from './linux/rtnetlink.js';
import { Mesher } from './mesh/mesher.js';
import { agentService } from './service/agent-service.js';
import { startCniEndpoint } from './service/cni-socket.js';
import { agentTlsFiles, loadAgentCredential, savedControllerAddr } from './trust/credentials.js';
import { ensureEnrolled, enrollSettings } from './trust/enroll.js';
import { startAgentTcp, type AgentTcp } from './trust/tcp-endpoint.js';
import { AgentService } from '../common/rpc/services.js';
import { addHealth } from '../common/rpc/health.js';
import { bindServer, shutdownServer } from '../common/rpc/server.js';
import { agentGauges, passMetrics } from './metrics.js';

export interface AgentHandle {
  attacher: Attacher;
  mesher: Mesher;
  /** DHCP clients; `on('event')` reports lease changes (for the controller's inventory). */
  dhcp: DhcpSupervisor;
  lifecycle: Lifecycle;
  /** The metrics endpoint's address, when --metrics asked for one. */
  metricsListen?: string;
  stop(): Promise<void>;
}

export async function startAgent(
  cfg: AgentConfig,
  log: Logger,
  runner: Runner = new ExecRunner(),
): Promise<AgentHandle> {
  return withMetrics('AgentMetrics', cfg.metrics, log, (metrics) => startServing(cfg, log, runner, metrics));
}

type Metrics = OpenMetrics<'AgentMetrics'>;

async function startServing(
  cfg: AgentConfig,
  log: Logger,
  runner: Runner,
  metrics: Metrics | undefined,
): Promise<AgentHandle> {
  // First: the netlink thread loads its modules (~70 ms) while the rest starts.
  const ipPath = chooseIpPath(cfg, runner, log);
  ipPath.thread?.start();
  let docker: Docker | undefined;
  let dockerIndex: DockerIndex | undefined;
  const getDocker = () => {
    if (!docker && existsSync(cfg.dockerSocket)) {
      const Dockerode = loadDockerode(); // only once there is a Docker socket
      docker = new Dockerode({ socketPath: cfg.dockerSocket });
      dockerIndex = new DockerIndex(docker, log);
      void dockerIndex.start();
    }
    return docker;
  };
  getDocker();
  const resolver = new ContainerResolver({
    runner,
    netnsDir: cfg.netnsDir,
    docker: getDocker,
    dockerIndex: () => dockerIndex,
  });
  const records = new RecordStore(cfg.stateDir);
  const dhcp = new DhcpSupervisor({
    runner,
    log: log.child({ part: 'dhcp' }),
    stateDir: cfg.stateDir,
    docker: getDocker,
  });
  // Before serving: live clients are adopted (same PID), dead ones restarted, orphans reaped.
  const adopted = await dhcp.adopt();
  if (adopted.adopted.length + adopted.restarted.length + adopted.reaped.length)
    log.info(adopted, 'dhcp clients after restart');
  let caps: Promise<Capability[]> | undefined;
  const capabilities = () =>
    (caps ??= probeCapabilities(runner, undefined, { ...(cfg.ovsDb ? { ovsDb: cfg.ovsDb } : {}) }).then((c) => [
      ...c,
      ipPath.capability,
    ]));
  const ownerMark = ownerMarkOf(cfg.stateDir);
  const attacher = new Attacher({
    runner,
    ip: ipPath.ip,
    records,
    resolver,
    log,
    capabilities,
    dhcp,
    ovsDatapath: cfg.ovsDatapath,
    ...(cfg.ovsDb ? { ovsDb: cfg.ovsDb } : {}),
    ownerMark,
    // the mesh is made below; nothing asks before the agent serves
    meshHolds: (bridge): boolean => mesher.holds(bridge),
  });
  const ovsCtl = new OvsCtl(runner, cfg.ovsDb);
  // The orphan sweep's port list stands on the mesh's OVSDB watch while there is one (mesher is made below).
  const ownedPorts = new WatchedOwnedPorts(
    () => ovsCtl.ownedPorts(),
    () => mesher.interfacesVersion(),
  );
  // Containers' lives: events re-apply, stop and release at once; a periodic full pass repairs the rest.
  const reservations = new Reservations(cfg.stateDir);
  const lifecycle = new Lifecycle({
    attacher,
    records,
    resolver,
    docker: getDocker,
    log: log.child({ part: 'lifecycle' }),
    fullPassMs: cfg.lifecyclePassMs,
    ...(cfg.hostName ? { hostName: cfg.hostName } : {}),
    orphans: {
      runner,
      ovs: ovsCtl,
      ownerMark,
      privateOvs: !!cfg.ovsDb,
      ownedPorts: () => ownedPorts.get(),
    },
    onExit: (id) => void dhcp.containerGone(id),
    ...(metrics ? { onPass: (rep: PassReport) => passMetrics(metrics.m, rep) } : {}),
    lxcEvents: (h) => watchLxcEvents({ runner, log: log.child({ part: 'lxc-events' }) }, h),
    cniGone: new GoneReservations(reservations, log.child({ part: 'cni' })),
  });
  const mesher = new Mesher({
    runner,
    neigh: ipPath.neigh,
    stateDir: cfg.stateDir,
    log: log.child({ part: 'mesh' }),
    ...(cfg.ovsDb ? { ovsDb: cfg.ovsDb } : {}),
    resyncMs: cfg.meshResyncMs,
    bfdDecayMs: cfg.meshBfdDecayMs,
    watchBfd: true,
    defaultDatapathType: cfg.ovsDatapath,
    hasGretap: async () => (await capabilities()).some((c) => c.name === 'gretap' && c.available),
    ownerMark,
    owned: attacher.owned,
  });
  const cniFleet = cniFleetLink(cfg, reservations, log.child({ part: 'cni' }));
  const cni = new CniHandler({
    attacher,
    reservations,
    runner,
    log: log.child({ part: 'cni' }),
    ...(cniFleet ? { fleet: cniFleet } : {}),
  });
  const served = agentService({
    attacher,
    cni,
    mesher,
    resolve: (t) => resolver.resolve(t),
    runner,
    log,
    version: VERSION,
    ...(cfg.hostName ? { hostName: cfg.hostName } : {}),
    startedAtMs: Date.now(),
    capabilities,
    lifecycle,
    check: (fix) =>
      checkHost(
        {
          attacher,
          records,
          lifecycle,
          orphans: { runner, ovs: new OvsCtl(runner, cfg.ovsDb), ownerMark, privateOvs: !!cfg.ovsDb, log },
        },
        fix,
      ),
  });
  if (metrics) agentGauges(metrics.m, dhcp, mesher);
  const impl = metrics
    ? metrics.m.instrument(AgentService, served, { attach: metrics.m.attachSeconds, detach: metrics.m.detachSeconds })
    : served;

  let tcp: AgentTcp | undefined;

  mkdirSync(dirname(cfg.socket), { recursive: true, mode: 0o755 });
  if (existsSync(cfg.socket)) rmSync(cfg.socket); // a stale socket from an earlier run
  const local = new Server();
  local.addService(AgentService, impl);
  const localHealth = addHealth(local, { 'fleetnet.v1.Agent': 'SERVING' });
  await bindServer(local, `unix://${cfg.socket}`, ServerCredentials.createInsecure());
  chmodSync(cfg.socket, 0o600); // root only: the local CLI
  // The CNI plugin processes' own way in, beside the socket (its own framing: cni/transport.ts says why).
  const cniEndpoint = await startCniEndpoint(cniSocketOf(cfg.socket), cni, log.child({ part: 'cni' }));

  if (cfg.listen) {
    // trust (issue 7): enroll first when told to, then mTLS (or Health only while unenrolled)
    const files = agentTlsFiles(cfg.stateDir);
    const credential = await ensureEnrolled(enrollSettings(cfg), files, log).catch(async (err: unknown) => {
      // refused (a bad join token): what was started above stops again, nothing stays served
      dockerIndex?.stop();
      dhcp.close();
      cniFleet?.close();
      await cniEndpoint.close();
      await shutdownServer(local);
      await ipPath.thread?.close();
      rmSync(cfg.socket, { force: true });
      throw err;
    });
    tcp = await startAgentTcp({
      listen: cfg.listen,
      agentImpl: impl,
      credential,
      files,
      insecureTcp: cfg.insecureTcp,
      log,
    });
  }
  // A mesh held from before a restart: converge to it now, then periodically.
  mesher.resume();
  lifecycle.start();
  log.info({ socket: cfg.socket, listen: cfg.listen, stateDir: cfg.stateDir, version: VERSION }, 'agent serving');
  return {
    attacher,
    mesher,
    dhcp,
    lifecycle,
    ...(metrics ? { metricsListen: metrics.endpoint.listen } : {}),
    async stop() {
      mesher.stop(true);
      await lifecycle.stop(); // LXC's event child too
      dhcp.close(); // clients keep running: the next agent adopts them
      dockerIndex?.stop();
      localHealth.draining();
      cniFleet?.close();
      await cniEndpoint.close();
      await Promise.all([shutdownServer(local), tcp?.stop()]);
      rmSync(cfg.socket, { force: true });
      await metrics?.endpoint.close();
      await ipPath.thread?.close();
    },
  };
}

/**
 * The fleet controller CNI ADDs take addresses and MACs from: --cni-controller, else the controller
 * this agent enrolls (or enrolled) with; none: local pools. It calls as this host, with the host
 * certificate as it stands at each call (renewals included), or plain TCP when not enrolled (labs).
 */
export function cniFleetLink(cfg: AgentConfig, reservations: Reservations, log: Logger): GrpcFleetLink | undefined {
  if (cfg.cniController === 'none') return undefined;
  const files = agentTlsFiles(cfg.stateDir);
  const enrolled = loadAgentCredential(files) ? savedControllerAddr(files) : undefined;
  const controller = cfg.cniController ?? cfg.controller ?? enrolled;
  if (!controller) return undefined;
  const hostName = cfg.hostName ?? hostname();
  log.info({ controller, hostName }, 'cni: addresses from the fleet controller');
  const credential = () => loadAgentCredential(files);
  return new GrpcFleetLink({ controller, hostName, reservations, credential, caFile: files.ca, log });
}

/**
 * In-process route netlink for the attach path when its native modules load (no exec per attach);
 * `ip -batch` execs otherwise, or when --ip-path exec asks for them. The mesh's neighbour work (a
 * tunnel bridge made on user-space OVS) goes the same way: over netlink on the main thread, or `ip` execs.
 */
export function chooseIpPath(
  cfg: Pick<AgentConfig, 'ipPath'>,
  runner: Runner,
  log: Logger,
  load: typeof loadRtnl = loadRtnl,
): { ip: IpExec; neigh: () => NeighIo; capability: Capability; thread?: NetlinkThread } {
  const exec = ipExec(runner);
  const rt = cfg.ipPath === 'exec' ? 'not chosen (--ip-path exec)' : load();
  if (typeof rt === 'string') {
    if (cfg.ipPath === 'netlink')
      throw unsupported(
        rt,
        'run the agent from an npm install of fleetnet (node_modules holds netlink and koffi), or pass --ip-path exec',
      );
    if (cfg.ipPath === 'auto') log.warn({ reason: rt }, 'attaches run ip -batch (two execs each)');
    return {
      ip: exec,
      neigh: () => execNeighIo(runner),
      capability: { name: 'netlink', available: false, detail: rt },
    };
  }
  log.debug('attaches use in-process route netlink');
  // Their batches on a thread of their own (netlink-thread.ts), started by the agent (not by this choice).
  const file = netlinkWorkerFile();
  const thread = file
    ? startNetlinkThread(
        file,
        (netns, ops) => runBatch(rt, netns, ops),
        (why) => log.warn({ why }, 'netlink thread down: attaches run netlink on the main thread'),
      )
    : undefined;
  return {
    ip: netlinkIp(rt, exec, thread ? { thread } : {}),
    neigh: () => netlinkNeighIo(rt),
    ...(thread ? { thread } : {}),
    capability: {
      name: 'netlink',
      available: true,
      detail:
        'in-process route netlink for attaches (setns through koffi)' +
        (thread ? ', on a thread of its own' : ', on the main thread (no netlink-worker.cjs beside the agent)'),
    },
  };
}
