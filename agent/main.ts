// Composition root of the agent: config in, servers up, every dependency passed explicitly.
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { chmodSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import Docker from 'dockerode';
import type { Logger } from 'pino';
import { ExecRunner, type Runner } from '../common/runner.js';
import { VERSION } from '../common/version.js';
import { AgentService } from '../proto/gen/fleetnet/v1/agent.js';
import { Attacher } from './attach/attacher.js';
import { RecordStore } from './attach/records.js';
import type { AgentConfig } from './config.js';
import { ContainerResolver } from './containers/resolve.js';
import { probeCapabilities, type Capability } from './linux/capabilities.js';
import { ipExec } from './linux/ip.js';
import { agentService } from './service/agent-service.js';
import { agentTlsFiles } from './trust/credentials.js';
import { ensureEnrolled, enrollSettings } from './trust/enroll.js';
import { startAgentTcp } from './trust/tcp-endpoint.js';

export interface AgentHandle {
  attacher: Attacher;
  stop(): Promise<void>;
}

export async function startAgent(cfg: AgentConfig, log: Logger, runner: Runner = new ExecRunner()): Promise<AgentHandle> {
  let docker: Docker | undefined;
  const resolver = new ContainerResolver({
    runner,
    netnsDir: cfg.netnsDir,
    docker: () => {
      if (!docker && existsSync(cfg.dockerSocket)) docker = new Docker({ socketPath: cfg.dockerSocket });
      return docker;
    },
  });
  const records = new RecordStore(cfg.stateDir);
  const attacher = new Attacher({ runner, ip: ipExec(runner), records, resolver, log });
  let caps: Promise<Capability[]> | undefined;
  const impl = agentService({
    attacher,
    log,
    version: VERSION,
    ...(cfg.hostName ? { hostName: cfg.hostName } : {}),
    startedAtMs: Date.now(),
    capabilities: () => (caps ??= probeCapabilities(runner)),
  });

  const servers: Server[] = [];
  const bind = (s: Server, addr: string) =>
    new Promise<void>((resolve, reject) =>
      s.bindAsync(addr, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );

  mkdirSync(dirname(cfg.socket), { recursive: true, mode: 0o755 });
  if (existsSync(cfg.socket)) rmSync(cfg.socket); // a stale socket from an earlier run
  const local = new Server();
  local.addService(AgentService, impl);
  await bind(local, `unix://${cfg.socket}`);
  chmodSync(cfg.socket, 0o600); // root only: the local CLI
  servers.push(local);

  if (cfg.listen) {
    // trust (issue 7): enroll first when told to, then mTLS (or Health only while unenrolled)
    const files = agentTlsFiles(cfg.stateDir);
    const credential = await ensureEnrolled(enrollSettings(cfg), files, log);
    servers.push(await startAgentTcp({ listen: cfg.listen, agentImpl: impl, credential, files, insecureTcp: cfg.insecureTcp, log }));
  }
  log.info({ socket: cfg.socket, listen: cfg.listen, stateDir: cfg.stateDir, version: VERSION }, 'agent serving');
  return {
    attacher,
    async stop() {
      await Promise.all(servers.map((s) => new Promise<void>((r) => s.tryShutdown(() => r()))));
      rmSync(cfg.socket, { force: true });
    },
  };
}
