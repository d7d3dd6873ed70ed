// fleetnet agent run: the per-host root agent.
import type { Command } from 'commander';
import { DEFAULT_AGENT_SOCKET } from '../../common/defaults.js';

export function register(program: Command): void {
  const agent = program.command('agent').summary('run the per-host agent');
  agent
    .command('run')
    .summary('serve attach/detach/list for this host')
    .description('Run the agent. With no flags it serves the local CLI on ' + DEFAULT_AGENT_SOCKET + ' (root only), so that `fleetnet attach` works on this host with no configuration.')
    .option('--socket <path>', `unix socket for the local CLI (default ${DEFAULT_AGENT_SOCKET})`)
    .option('--listen <addr:port>', 'also listen on TCP for the controller (an address this host holds)')
    .option('--state-dir <dir>', 'where the agent keeps what it made', '/var/lib/fleetnet/agent')
    .option('--ovs-db <socket>', 'Open vSwitch database socket (default: what ovs-vsctl finds)')
    .option('--ovs-datapath <type>', 'datapath of OVS bridges the agent creates: system or netdev (user space)', 'system')
    .option('--host-name <name>', 'name this host reports (default: the hostname)')
    .option('--log-level <level>', 'trace, debug, info, warn, error', 'info')
    // the CLI's global --controller takes the value where one exists, hence optsWithGlobals below
    .option('--controller <addr:port,...>', 'enroll with this controller (mTLS) before serving TCP; several comma-separated: the first that answers')
    .option('--join-token-file <file>', 'single-use join token for enrollment', '/etc/fleetnet/agent/join-token')
    .option('--ca-file <file>', 'the fleet CA to pin for enrollment', '/etc/fleetnet/agent/ca.crt')
    .option('--ip-path <path>', 'auto, netlink (in-process, no exec per attach) or exec (ip -batch, two execs per attach)', 'auto')
    .option('--insecure-tcp', 'serve TCP without TLS or authorization (labs not yet on mTLS only)')
    .option('--docker-socket <path>', 'the Docker daemon whose containers this agent follows', '/var/run/docker.sock')
    .option('--lifecycle-pass-ms <ms>', 'period of the full pass that repairs missed container events and removes orphans', '10000')
    .action(async (opts: Record<string, string | undefined>, cmd: Command) => {
      const [{ agentConfig }, { startAgent }, { makeLogger, runUntilSignal }] = await Promise.all([
        import('../../agent/config.js'),
        import('../../agent/main.js'),
        import('../../common/logger.js'),
      ]);
      const cfg = agentConfig({
        socket: (cmd.optsWithGlobals().socket as string | undefined) ?? DEFAULT_AGENT_SOCKET, listen: opts.listen, stateDir: opts.stateDir, ovsDb: opts.ovsDb, ovsDatapath: opts.ovsDatapath,
        logLevel: opts.logLevel, ...(opts.hostName ? { hostName: opts.hostName } : {}),
        controller: opts.controller ?? (cmd.optsWithGlobals().controller as string | undefined), joinTokenFile: opts.joinTokenFile, caFile: opts.caFile, insecureTcp: Boolean(opts.insecureTcp),
        ipPath: opts.ipPath, dockerSocket: opts.dockerSocket, lifecyclePassMs: Number(opts.lifecyclePassMs),
      });
      const log = makeLogger(cfg.logLevel, 'agent');
      const handle = await startAgent(cfg, log);
      await runUntilSignal(log, handle);
    });
}
